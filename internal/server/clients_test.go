package server_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/outcroptest"
)

// The client suites under test/ drive a real test server with the official
// AWS SDKs for Python (boto3) and JavaScript (v3). Their dependencies are
// installed by scripts/test.sh; without them these tests skip.

// moduleRoot is the module root relative to this package's directory, which
// is the working directory of go test.
const moduleRoot = "../.."

// clientSuiteTimeout bounds one client suite, so that a hung SDK call fails
// the test instead of stalling the run.
const clientSuiteTimeout = 5 * time.Minute

func TestBoto3(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	if out, err := exec.Command("python3", "-c", "import boto3, pytest").CombinedOutput(); err != nil {
		t.Skipf("boto3 or pytest is not installed (%s): run `python3 -m pip install -r test/python/requirements.txt`",
			strings.TrimSpace(lastLine(string(out))))
	}
	runClientSuite(t, "python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test/python", "--ignore=test/python/libraries")
}

func TestJSSDK(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(moduleRoot, "test", "js", "node_modules")); err != nil {
		t.Skip("the AWS SDK for JavaScript is not installed: run `npm ci --prefix test/js`")
	}
	runClientSuite(t, "node", "--test", "test/js/")
}

// runClientSuite starts a test server with a Bedrock API key, runs the
// command in the module root with the server's coordinates in its
// environment, logs its output line by line, and fails if it fails.
func runClientSuite(t *testing.T, name string, args ...string) {
	t.Helper()
	runClientSuiteOn(t, outcroptest.Options{}, nil, name, args...)
}

// runClientSuiteOn is runClientSuite on a server built with opts, with env
// added to the command's environment.
func runClientSuiteOn(t *testing.T, opts outcroptest.Options, env []string, name string, args ...string) {
	t.Helper()
	srv := outcroptest.NewServer(t, opts)
	token, _, err := srv.Srv.IAM().CreateAPIKey(context.Background(), "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), clientSuiteTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = moduleRoot
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(clientEnv(os.Environ()),
		"OUTCROP_TEST_URL="+srv.URL,
		"OUTCROP_TEST_KEY_ID="+srv.Key.ID,
		"OUTCROP_TEST_SECRET="+srv.Key.Secret,
		"OUTCROP_TEST_API_KEY="+token,
		"OUTCROP_TEST_MODEL="+outcroptest.EchoModels[0].ID,
	)
	cmd.Env = append(cmd.Env, env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			t.Log(sc.Text())
		}
		io.Copy(io.Discard, pr) // a line too long for the scanner must not block the child
	}()
	err = cmd.Run()
	pw.Close()
	<-done
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
}

// clientEnv is the parent's environment without AWS settings, plus settings
// that keep the SDKs away from the machine's AWS configuration, instance
// metadata and proxies: the suites must see only the test server.
func clientEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(strings.ToUpper(k), "AWS_"),
			strings.EqualFold(k, "HTTP_PROXY"), strings.EqualFold(k, "HTTPS_PROXY"),
			strings.EqualFold(k, "ALL_PROXY"), strings.EqualFold(k, "NO_PROXY"):
			continue
		}
		out = append(out, kv)
	}
	return append(out,
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
		"PYTHONDONTWRITEBYTECODE=1",
		"NO_COLOR=1",
	)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
