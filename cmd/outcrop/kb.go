package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	at "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rtt "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/outcrop/outcrop/internal/config"
)

// kbClient holds what the kb subcommands need: the two agent clients of
// the AWS SDK, pointed at the server, and the configuration for the data
// directory (where folders are linked as buckets).
type kbClient struct {
	cfg *config.Config
	ag  *bedrockagent.Client
	rt  *bedrockagentruntime.Client
}

// kbFlags are the client settings shared by the kb subcommands.
type kbFlags struct {
	endpoint string
	poll     time.Duration
}

// endpointURL is --endpoint-url, else $OUTCROP_ENDPOINT_URL, else
// $AWS_ENDPOINT_URL, else the server's listen address on loopback.
func (f *kbFlags) endpointURL(c *config.Config) string {
	for _, v := range []string{f.endpoint, os.Getenv("OUTCROP_ENDPOINT_URL"), os.Getenv("AWS_ENDPOINT_URL")} {
		if v != "" {
			return v
		}
	}
	host, port, _ := net.SplitHostPort(c.Listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// client builds SDK clients. Credentials come from the usual AWS sources
// when the environment names any (AWS_ACCESS_KEY_ID, AWS_PROFILE,
// AWS_SHARED_CREDENTIALS_FILE); otherwise from the credentials file that
// `outcrop serve` writes in the data directory (profile "outcrop").
func (f *kbFlags) client(ctx context.Context, g *globalFlags) (*kbClient, error) {
	c, err := g.load()
	if err != nil {
		return nil, err
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(c.Region)}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" && os.Getenv("AWS_SHARED_CREDENTIALS_FILE") == "" {
		path := filepath.Join(c.DataDir, "credentials")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (outcrop keys create), or start `outcrop serve` once to create %s", path)
		}
		opts = append(opts, awsconfig.WithSharedCredentialsFiles([]string{path}), awsconfig.WithSharedConfigFiles([]string{}),
			awsconfig.WithSharedConfigProfile("outcrop"))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	ep := aws.String(f.endpointURL(c))
	return &kbClient{
		cfg: c,
		ag:  bedrockagent.NewFromConfig(ac, func(o *bedrockagent.Options) { o.BaseEndpoint = ep }),
		rt:  bedrockagentruntime.NewFromConfig(ac, func(o *bedrockagentruntime.Options) { o.BaseEndpoint = ep }),
	}, nil
}

// bucketName is the bucket that serves a knowledge base's folder: the
// server serves arn:aws:s3:::NAME from <data-dir>/buckets/NAME, here a
// symbolic link to the folder. Knowledge base IDs are unique, so the
// names never collide.
func bucketName(kbID string) string { return "outcrop-kb-" + strings.ToLower(kbID) }

func (c *kbClient) bucketDir(bucket string) string {
	return filepath.Join(c.cfg.DataDir, "buckets", bucket)
}

// linkFolder links dir into the data directory as bucket.
func (c *kbClient) linkFolder(bucket, dir string) error {
	link := c.bucketDir(bucket)
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		return err
	}
	if old, err := os.Readlink(link); err == nil {
		if old == dir {
			return nil
		}
		return fmt.Errorf("%s already links to %s", link, old)
	}
	return os.Symlink(dir, link)
}

// unlinkFolder removes bucket's link, if it is one (the folder stays), or
// the empty directory the server made for it when it could not see the
// link.
func (c *kbClient) unlinkFolder(bucket string) {
	link := c.bucketDir(bucket)
	if st, err := os.Lstat(link); err == nil && (st.Mode()&os.ModeSymlink != 0 || st.IsDir()) {
		_ = os.Remove(link) // fails, harmlessly, on a directory that is not empty
	}
}

// folderOf returns the folder linked as bucket, or "".
func (c *kbClient) folderOf(bucket string) string {
	dir, err := os.Readlink(c.bucketDir(bucket))
	if err != nil {
		return ""
	}
	return dir
}

// countDocuments counts the files an ingestion job will scan in dir:
// every file but metadata sidecars.
func countDocuments(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasSuffix(p, ".metadata.json") && !strings.HasSuffix(p, ".attrs") {
			n++
		}
		return nil
	})
	return n
}

// findKB returns the knowledge base named name (or with that ID).
func (c *kbClient) findKB(ctx context.Context, name string) (at.KnowledgeBaseSummary, error) {
	p := bedrockagent.NewListKnowledgeBasesPaginator(c.ag, &bedrockagent.ListKnowledgeBasesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return at.KnowledgeBaseSummary{}, err
		}
		for _, k := range page.KnowledgeBaseSummaries {
			if aws.ToString(k.Name) == name || aws.ToString(k.KnowledgeBaseId) == name {
				return k, nil
			}
		}
	}
	return at.KnowledgeBaseSummary{}, fmt.Errorf("no knowledge base named %q (see outcrop kb list)", name)
}

// dataSources returns every data source of a knowledge base.
func (c *kbClient) dataSources(ctx context.Context, kbID string) ([]at.DataSource, error) {
	var out []at.DataSource
	p := bedrockagent.NewListDataSourcesPaginator(c.ag, &bedrockagent.ListDataSourcesInput{KnowledgeBaseId: &kbID})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.DataSourceSummaries {
			ds, err := c.ag.GetDataSource(ctx, &bedrockagent.GetDataSourceInput{KnowledgeBaseId: &kbID, DataSourceId: s.DataSourceId})
			if err != nil {
				return nil, err
			}
			out = append(out, *ds.DataSource)
		}
	}
	return out, nil
}

// s3Bucket returns the bucket of an S3 data source, or "".
func s3Bucket(ds at.DataSource) string {
	if ds.DataSourceConfiguration == nil || ds.DataSourceConfiguration.S3Configuration == nil {
		return ""
	}
	return strings.TrimPrefix(aws.ToString(ds.DataSourceConfiguration.S3Configuration.BucketArn), "arn:aws:s3:::")
}

// ingest starts an ingestion job on a data source and waits for it,
// drawing a progress bar over total documents (an unknown total, 0 or
// less, draws a spinner). It returns the finished job.
func (c *kbClient) ingest(ctx context.Context, progress io.Writer, poll time.Duration, kbID string, ds at.DataSource, total int) (*at.IngestionJob, error) {
	st, err := c.ag.StartIngestionJob(ctx, &bedrockagent.StartIngestionJobInput{KnowledgeBaseId: &kbID, DataSourceId: ds.DataSourceId})
	if err != nil {
		return nil, err
	}
	if total <= 0 {
		total = -1
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(progress),
		progressbar.OptionSetDescription("ingesting "+aws.ToString(ds.Name)),
		progressbar.OptionSetItsString("docs"),
		progressbar.OptionShowIts(),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }),
	)
	defer bar.Exit()
	for {
		j, err := c.ag.GetIngestionJob(ctx, &bedrockagent.GetIngestionJobInput{KnowledgeBaseId: &kbID, DataSourceId: ds.DataSourceId,
			IngestionJobId: st.IngestionJob.IngestionJobId})
		if err != nil {
			return nil, err
		}
		job := j.IngestionJob
		if s := job.Statistics; s != nil {
			_ = bar.Set64(s.NumberOfDocumentsScanned)
		}
		switch job.Status {
		case at.IngestionJobStatusComplete:
			_ = bar.Finish()
			return job, nil
		case at.IngestionJobStatusFailed, at.IngestionJobStatusStopped:
			return job, fmt.Errorf("ingestion job %s %s: %s", aws.ToString(job.IngestionJobId), job.Status, strings.Join(job.FailureReasons, "; "))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

func printStats(w io.Writer, j *at.IngestionJob) {
	s := j.Statistics
	if s == nil {
		return
	}
	fmt.Fprintf(w, "%d scanned, %d new, %d modified, %d deleted, %d failed\n", s.NumberOfDocumentsScanned,
		s.NumberOfNewDocumentsIndexed, s.NumberOfModifiedDocumentsIndexed+s.NumberOfMetadataDocumentsModified, s.NumberOfDocumentsDeleted, s.NumberOfDocumentsFailed)
	for _, r := range j.FailureReasons {
		fmt.Fprintf(w, "  failed: %s\n", r)
	}
}

func kbCmd(g *globalFlags) *cobra.Command {
	var f kbFlags
	cmd := &cobra.Command{Use: "kb", Short: "Build and query knowledge bases on the server (bedrock-agent and bedrock-agent-runtime)",
		Long: `Build and query knowledge bases on a running server through the AWS SDK's bedrock-agent and
bedrock-agent-runtime clients, as any program would.

The server is --endpoint-url ($OUTCROP_ENDPOINT_URL, $AWS_ENDPOINT_URL; default: the listen address).
Credentials come from the AWS environment when it names any, otherwise from <data-dir>/credentials
(written by outcrop serve). "kb create --folder" links the folder into the server's data directory
as a bucket, so it needs the server on this machine with the same --data-dir.`}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.endpoint, "endpoint-url", "", "server URL (default $OUTCROP_ENDPOINT_URL, $AWS_ENDPOINT_URL or http://<listen>)")
	pf.DurationVar(&f.poll, "poll", 250*time.Millisecond, "how often to check a running ingestion job")
	cmd.AddCommand(kbCreateCmd(g, &f), kbSyncCmd(g, &f), kbAskCmd(g, &f), kbListCmd(g, &f), kbRmCmd(g, &f))
	return cmd
}

// chunkingFlags are the data source's chunking strategy and its knobs.
type chunkingFlags struct {
	strategy                      string
	maxTokens, overlap            int32
	parentMax, childMax, overlapT int32
	buffer, breakpoint            int32
}

func (c *chunkingFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&c.strategy, "chunking", "FIXED_SIZE", "chunking strategy: FIXED_SIZE, HIERARCHICAL, SEMANTIC or NONE")
	fl.Int32Var(&c.maxTokens, "max-tokens", 300, "FIXED_SIZE, SEMANTIC: tokens (words) per chunk")
	fl.Int32Var(&c.overlap, "overlap", 20, "FIXED_SIZE: overlap between chunks, percent")
	fl.Int32Var(&c.parentMax, "parent-max-tokens", 1500, "HIERARCHICAL: tokens per parent chunk (what retrieval returns)")
	fl.Int32Var(&c.childMax, "child-max-tokens", 300, "HIERARCHICAL: tokens per child chunk (what is searched)")
	fl.Int32Var(&c.overlapT, "overlap-tokens", 60, "HIERARCHICAL: tokens repeated between neighbouring chunks")
	fl.Int32Var(&c.buffer, "buffer-size", 0, "SEMANTIC: neighbouring sentences (0 or 1) embedded with each sentence")
	fl.Int32Var(&c.breakpoint, "breakpoint", 95, "SEMANTIC: breakpoint percentile threshold (50-99); higher cuts less often")
}

func (c *chunkingFlags) config() (*at.VectorIngestionConfiguration, error) {
	cc := &at.ChunkingConfiguration{ChunkingStrategy: at.ChunkingStrategy(strings.ToUpper(c.strategy))}
	switch cc.ChunkingStrategy {
	case at.ChunkingStrategyFixedSize:
		cc.FixedSizeChunkingConfiguration = &at.FixedSizeChunkingConfiguration{MaxTokens: aws.Int32(c.maxTokens), OverlapPercentage: aws.Int32(c.overlap)}
	case at.ChunkingStrategyHierarchical:
		cc.HierarchicalChunkingConfiguration = &at.HierarchicalChunkingConfiguration{OverlapTokens: aws.Int32(c.overlapT),
			LevelConfigurations: []at.HierarchicalChunkingLevelConfiguration{{MaxTokens: aws.Int32(c.parentMax)}, {MaxTokens: aws.Int32(c.childMax)}}}
	case at.ChunkingStrategySemantic:
		cc.SemanticChunkingConfiguration = &at.SemanticChunkingConfiguration{MaxTokens: aws.Int32(c.maxTokens),
			BufferSize: aws.Int32(c.buffer), BreakpointPercentileThreshold: aws.Int32(c.breakpoint)}
	case at.ChunkingStrategyNone:
	default:
		return nil, fmt.Errorf("--chunking %q: want FIXED_SIZE, HIERARCHICAL, SEMANTIC or NONE", c.strategy)
	}
	return &at.VectorIngestionConfiguration{ChunkingConfiguration: cc}, nil
}

func kbCreateCmd(g *globalFlags, f *kbFlags) *cobra.Command {
	var (
		folder, model, desc string
		chunking            chunkingFlags
	)
	cmd := &cobra.Command{
		Use:   "create NAME --folder DIR",
		Short: "Create a knowledge base over a local folder and ingest it",
		Example: `  outcrop kb create handbook --folder ./docs
  outcrop kb create notes --folder ~/notes --chunking FIXED_SIZE --max-tokens 200 --overlap 10
  outcrop kb create manuals --folder ./manuals --chunking HIERARCHICAL --parent-max-tokens 1000 --child-max-tokens 200
  outcrop kb create essays --folder ./essays --chunking SEMANTIC --breakpoint 90`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if folder == "" {
				return errors.New("--folder is required")
			}
			dir, err := filepath.Abs(folder)
			if err != nil {
				return err
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return fmt.Errorf("--folder %s is not a directory", folder)
			}
			vic, err := chunking.config()
			if err != nil {
				return err
			}
			c, err := f.client(ctx, g)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			k, err := c.ag.CreateKnowledgeBase(ctx, &bedrockagent.CreateKnowledgeBaseInput{
				Name:        aws.String(args[0]),
				Description: optional(desc),
				RoleArn:     aws.String("arn:aws:iam::" + c.cfg.AccountID + ":role/outcrop-kb"),
				KnowledgeBaseConfiguration: &at.KnowledgeBaseConfiguration{Type: at.KnowledgeBaseTypeVector,
					VectorKnowledgeBaseConfiguration: &at.VectorKnowledgeBaseConfiguration{EmbeddingModelArn: aws.String(modelARN(c.cfg.Region, model))}},
			})
			if err != nil {
				return err
			}
			kbID := aws.ToString(k.KnowledgeBase.KnowledgeBaseId)
			bucket := bucketName(kbID)
			// Until the data source exists, a failure undoes the
			// knowledge base: the one-line create either works or
			// leaves nothing behind.
			undo := func(err error) error {
				if _, derr := c.ag.DeleteKnowledgeBase(ctx, &bedrockagent.DeleteKnowledgeBaseInput{KnowledgeBaseId: &kbID}); derr != nil {
					return fmt.Errorf("%w (and deleting knowledge base %s failed: %v)", err, kbID, derr)
				}
				c.unlinkFolder(bucket)
				return err
			}
			if err := c.linkFolder(bucket, dir); err != nil {
				return undo(fmt.Errorf("link %s into the data directory: %w", dir, err))
			}
			ds, err := c.ag.CreateDataSource(ctx, &bedrockagent.CreateDataSourceInput{
				KnowledgeBaseId: &kbID,
				Name:            aws.String("folder"),
				Description:     aws.String(truncate(dir, 200)),
				DataSourceConfiguration: &at.DataSourceConfiguration{Type: at.DataSourceTypeS3,
					S3Configuration: &at.S3DataSourceConfiguration{BucketArn: aws.String("arn:aws:s3:::" + bucket)}},
				VectorIngestionConfiguration: vic,
			})
			if err != nil {
				return undo(err)
			}
			fmt.Fprintf(out, "created knowledge base %s (%s) over %s\n", args[0], kbID, dir)
			files := countDocuments(dir)
			j, err := c.ingest(ctx, cmd.ErrOrStderr(), f.poll, kbID, *ds.DataSource, files)
			if j != nil {
				printStats(out, j)
				if s := j.Statistics; s != nil && s.NumberOfDocumentsScanned == 0 && files > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: the server saw none of the %d files in %s; it reads the folder through %s, so it must run on this machine with the same --data-dir\n",
						files, dir, c.bucketDir(bucket))
				}
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&folder, "folder", "", "folder of documents to index (txt, md, html, csv, json, docx, pdf; .metadata.json sidecars)")
	fl.StringVar(&model, "embedding-model", "outcrop.all-minilm-l6-v2", "embedding model ID or ARN")
	fl.StringVar(&desc, "description", "", "description of the knowledge base")
	chunking.register(cmd)
	return cmd
}

// modelARN turns a model ID into its foundation-model ARN; ARNs pass.
func modelARN(region, id string) string {
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	return "arn:aws:bedrock:" + region + "::foundation-model/" + id
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func kbSyncCmd(g *globalFlags, f *kbFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "sync NAME",
		Short: "Re-ingest a knowledge base's data sources: new and edited files are indexed, deleted ones removed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := f.client(ctx, g)
			if err != nil {
				return err
			}
			k, err := c.findKB(ctx, args[0])
			if err != nil {
				return err
			}
			kbID := aws.ToString(k.KnowledgeBaseId)
			dss, err := c.dataSources(ctx, kbID)
			if err != nil {
				return err
			}
			synced := 0
			for _, ds := range dss {
				if ds.DataSourceConfiguration == nil || (ds.DataSourceConfiguration.Type != at.DataSourceTypeS3 && ds.DataSourceConfiguration.Type != at.DataSourceTypeWeb) {
					continue
				}
				total := -1
				if dir := c.folderOf(s3Bucket(ds)); dir != "" {
					total = countDocuments(dir)
				}
				j, err := c.ingest(ctx, cmd.ErrOrStderr(), f.poll, kbID, ds, total)
				if j != nil {
					printStats(cmd.OutOrStdout(), j)
				}
				if err != nil {
					return err
				}
				synced++
			}
			if synced == 0 {
				return fmt.Errorf("knowledge base %s has no S3 or folder data source to sync", args[0])
			}
			return nil
		},
	}
}

func kbListCmd(g *globalFlags, f *kbFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List knowledge bases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := f.client(ctx, g)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tID\tSTATUS\tUPDATED\tFOLDER")
			p := bedrockagent.NewListKnowledgeBasesPaginator(c.ag, &bedrockagent.ListKnowledgeBasesInput{})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				for _, k := range page.KnowledgeBaseSummaries {
					id := aws.ToString(k.KnowledgeBaseId)
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", aws.ToString(k.Name), id, k.Status,
						aws.ToTime(k.UpdatedAt).Local().Format(time.DateTime), dash(c.folderOf(bucketName(id))))
				}
			}
			return tw.Flush()
		},
	}
}

func kbRmCmd(g *globalFlags, f *kbFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a knowledge base and its index (the folder itself is left alone)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := f.client(ctx, g)
			if err != nil {
				return err
			}
			k, err := c.findKB(ctx, args[0])
			if err != nil {
				return err
			}
			id := aws.ToString(k.KnowledgeBaseId)
			if _, err := c.ag.DeleteKnowledgeBase(ctx, &bedrockagent.DeleteKnowledgeBaseInput{KnowledgeBaseId: &id}); err != nil {
				return err
			}
			c.unlinkFolder(bucketName(id))
			fmt.Fprintf(cmd.OutOrStdout(), "deleted knowledge base %s (%s)\n", args[0], id)
			return nil
		},
	}
}

func kbAskCmd(g *globalFlags, f *kbFlags) *cobra.Command {
	var (
		model, session, prompt string
		rerankModel            string
		results, reranked      int32
		maxTokens              int32
		stream                 bool
	)
	cmd := &cobra.Command{
		Use:   `ask NAME "QUESTION"`,
		Short: "Answer a question from a knowledge base (RetrieveAndGenerate) and show the citations",
		Example: `  outcrop kb ask handbook "How many days of leave do I get?"
  outcrop kb ask handbook "And in the first year?" --session 3f1c…`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := f.client(ctx, g)
			if err != nil {
				return err
			}
			k, err := c.findKB(ctx, args[0])
			if err != nil {
				return err
			}
			kbc := &rtt.KnowledgeBaseRetrieveAndGenerateConfiguration{
				KnowledgeBaseId: k.KnowledgeBaseId,
				ModelArn:        aws.String(modelARN(c.cfg.Region, model)),
				RetrievalConfiguration: &rtt.KnowledgeBaseRetrievalConfiguration{VectorSearchConfiguration: &rtt.KnowledgeBaseVectorSearchConfiguration{
					NumberOfResults: aws.Int32(results)}},
			}
			if rerankModel != "" {
				rb := &rtt.VectorSearchBedrockRerankingConfiguration{
					ModelConfiguration: &rtt.VectorSearchBedrockRerankingModelConfiguration{ModelArn: aws.String(modelARN(c.cfg.Region, rerankModel))}}
				if reranked > 0 {
					rb.NumberOfRerankedResults = aws.Int32(reranked)
				}
				kbc.RetrievalConfiguration.VectorSearchConfiguration.RerankingConfiguration = &rtt.VectorSearchRerankingConfiguration{
					Type: rtt.VectorSearchRerankingConfigurationTypeBedrockRerankingModel, BedrockRerankingConfiguration: rb}
			}
			gen := &rtt.GenerationConfiguration{}
			if prompt != "" {
				gen.PromptTemplate = &rtt.PromptTemplate{TextPromptTemplate: aws.String(prompt)}
			}
			if maxTokens > 0 {
				gen.InferenceConfig = &rtt.InferenceConfig{TextInferenceConfig: &rtt.TextInferenceConfig{MaxTokens: aws.Int32(maxTokens)}}
			}
			if gen.PromptTemplate != nil || gen.InferenceConfig != nil {
				kbc.GenerationConfiguration = gen
			}
			rag := &rtt.RetrieveAndGenerateConfiguration{Type: rtt.RetrieveAndGenerateTypeKnowledgeBase, KnowledgeBaseConfiguration: kbc}
			if stream {
				return askStream(ctx, cmd.OutOrStdout(), c, &bedrockagentruntime.RetrieveAndGenerateStreamInput{
					Input: &rtt.RetrieveAndGenerateInput{Text: aws.String(args[1])}, SessionId: optional(session), RetrieveAndGenerateConfiguration: rag})
			}
			out, err := c.rt.RetrieveAndGenerate(ctx, &bedrockagentruntime.RetrieveAndGenerateInput{
				Input: &rtt.RetrieveAndGenerateInput{Text: aws.String(args[1])}, SessionId: optional(session), RetrieveAndGenerateConfiguration: rag})
			if err != nil {
				return err
			}
			printAnswer(cmd.OutOrStdout(), out)
			return nil
		},
	}
	cmd.Flags().BoolVar(&stream, "stream", false, "print the answer as the model writes it (RetrieveAndGenerateStream)")
	fl := cmd.Flags()
	fl.StringVar(&model, "model", "outcrop.smollm2-135m-instruct", "text model ID or ARN that writes the answer")
	fl.StringVar(&session, "session", "", "session ID of an earlier answer, to continue the conversation")
	fl.StringVar(&prompt, "prompt", "", "prompt template with $search_results$ (and $query$, $output_format_instructions$, ...)")
	fl.Int32Var(&results, "results", 5, "passages to retrieve")
	fl.StringVar(&rerankModel, "rerank-model", "", "reranker model ID or ARN that reorders the passages (a configured reranker, e.g. amazon.rerank-v1:0)")
	fl.Int32Var(&reranked, "reranked-results", 0, "passages kept after reranking (default: --results)")
	fl.Int32Var(&maxTokens, "max-tokens", 0, "longest answer in tokens (default: the server's)")
	return cmd
}

// askStream prints the answer's text as it streams in, then the
// citations the stream carried, like printAnswer.
func askStream(ctx context.Context, w io.Writer, c *kbClient, in *bedrockagentruntime.RetrieveAndGenerateStreamInput) error {
	out, err := c.rt.RetrieveAndGenerateStream(ctx, in)
	if err != nil {
		return err
	}
	es := out.GetStream()
	defer es.Close()
	var text strings.Builder
	var cites []rtt.Citation
	for ev := range es.Events() {
		switch v := ev.(type) {
		case *rtt.RetrieveAndGenerateStreamResponseOutputMemberOutput:
			t := aws.ToString(v.Value.Text)
			text.WriteString(t)
			fmt.Fprint(w, t)
		case *rtt.RetrieveAndGenerateStreamResponseOutputMemberCitation:
			cites = append(cites, rtt.Citation{GeneratedResponsePart: v.Value.GeneratedResponsePart, RetrievedReferences: v.Value.RetrievedReferences})
		}
	}
	fmt.Fprintln(w)
	if err := es.Err(); err != nil {
		return err
	}
	printAnswer(w, &bedrockagentruntime.RetrieveAndGenerateOutput{Citations: cites, SessionId: out.SessionId})
	return nil
}

// printAnswer prints the answer, then each citation: the span of the
// answer it supports, and for each reference the source and a snippet.
func printAnswer(w io.Writer, out *bedrockagentruntime.RetrieveAndGenerateOutput) {
	if out.Output != nil {
		fmt.Fprintln(w, aws.ToString(out.Output.Text))
	}
	if len(out.Citations) > 0 {
		fmt.Fprintln(w, "\nCitations:")
	}
	for i, c := range out.Citations {
		if p := c.GeneratedResponsePart; p != nil && p.TextResponsePart != nil {
			tp := p.TextResponsePart
			var start, end int32
			if tp.Span != nil {
				start, end = aws.ToInt32(tp.Span.Start), aws.ToInt32(tp.Span.End)
			}
			fmt.Fprintf(w, "[%d] answer chars %d-%d: %q\n", i+1, start, end, truncate(aws.ToString(tp.Text), 120))
		}
		for _, r := range c.RetrievedReferences {
			fmt.Fprintf(w, "    %s\n", sourceOf(r))
			if r.Content != nil {
				fmt.Fprintf(w, "      %q\n", snippet(aws.ToString(r.Content.Text), citedText(c), 160))
			}
		}
	}
	if out.SessionId != nil {
		fmt.Fprintf(w, "\nsession: %s\n", aws.ToString(out.SessionId))
	}
}

func citedText(c rtt.Citation) string {
	if p := c.GeneratedResponsePart; p != nil && p.TextResponsePart != nil {
		return aws.ToString(p.TextResponsePart.Text)
	}
	return ""
}

// sourceOf names a reference's document: the file path inside a folder
// knowledge base's bucket, or the location as the API gives it.
func sourceOf(r rtt.RetrievedReference) string {
	loc := r.Location
	var s string
	switch {
	case loc == nil:
		s = "(unknown source)"
	case loc.S3Location != nil:
		s = aws.ToString(loc.S3Location.Uri)
		if rest, ok := strings.CutPrefix(s, "s3://outcrop-kb-"); ok {
			if _, file, ok := strings.Cut(rest, "/"); ok {
				s = file
			}
		}
	case loc.CustomDocumentLocation != nil:
		s = aws.ToString(loc.CustomDocumentLocation.Id)
	case loc.WebLocation != nil:
		s = aws.ToString(loc.WebLocation.Url)
	default:
		s = string(loc.Type)
	}
	if id, ok := r.Metadata["x-amz-bedrock-kb-chunk-id"]; ok {
		var v string
		if id.UnmarshalSmithyDocument(&v) == nil && v != "" {
			s += " (chunk " + v + ")"
		}
	}
	return s
}

// snippet returns about n bytes of text around the first word of cited
// (of four letters or more) that text contains, on word boundaries.
func snippet(text, cited string, n int) string {
	text = strings.Join(strings.Fields(text), " ")
	if len(text) <= n {
		return text
	}
	at := 0
	lower := strings.ToLower(text)
	for _, w := range strings.FieldsFunc(strings.ToLower(cited), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(w) >= 4 {
			if i := strings.Index(lower, w); i >= 0 {
				at = i
				break
			}
		}
	}
	start := max(0, at-n/3)
	end := min(len(text), start+n)
	start = max(0, end-n)
	if start > 0 {
		if i := strings.IndexByte(text[start:end], ' '); i >= 0 {
			start += i + 1
		}
	}
	if end < len(text) {
		if i := strings.LastIndexByte(text[start:end], ' '); i > 0 {
			end = start + i
		}
	}
	s := text[start:end]
	if start > 0 {
		s = "…" + s
	}
	if end < len(text) {
		s += "…"
	}
	return s
}
