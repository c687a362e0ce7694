package server_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bt "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"gocloud.dev/secrets"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/invlog"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/providertest"
	"github.com/outcrop/outcrop/internal/server"
)

// sealer is the fake key service's own cipher: AES-GCM under a key that
// never leaves the fake, as a KMS key never leaves KMS.
type sealer struct{ aead cipher.AEAD }

func newSealer(t *testing.T) *sealer {
	key := make([]byte, 32)
	rand.Read(key)
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return &sealer{g}
}

func (s *sealer) seal(p []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, p, nil)
}

func (s *sealer) open(c []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(c) < n {
		return nil, io.ErrUnexpectedEOF
	}
	return s.aead.Open(nil, c[:n], c[n:], nil)
}

// fakeKMS speaks AWS KMS's JSON 1.1 protocol for Encrypt and Decrypt
// (X-Amz-Target TrentService.*, base64 blobs, errors as {"__type",
// "message"}), for one key whose alias is alias/outcrop-logs.
func fakeKMS(t *testing.T, calls *atomic.Int32) *httptest.Server {
	const keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	s := newSealer(t)
	fail := func(w http.ResponseWriter, typ, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			fail(w, "UnrecognizedClientException", "The security token included in the request is invalid.")
			return
		}
		var in struct {
			KeyID          string `json:"KeyId"`
			Plaintext      []byte
			CiphertextBlob []byte
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			fail(w, "SerializationException", err.Error())
			return
		}
		out := map[string]any{"KeyId": keyARN, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
		switch r.Header.Get("X-Amz-Target") {
		case "TrentService.Encrypt":
			if in.KeyID != "alias/outcrop-logs" && in.KeyID != keyARN {
				fail(w, "NotFoundException", "Alias arn:aws:kms:us-east-1:111122223333:"+in.KeyID+" is not found.")
				return
			}
			out["CiphertextBlob"] = s.seal(in.Plaintext)
		case "TrentService.Decrypt":
			p, err := s.open(in.CiphertextBlob)
			if err != nil {
				fail(w, "InvalidCiphertextException", "")
				return
			}
			out["Plaintext"] = p
		default:
			fail(w, "UnknownOperationException", "")
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(out)
	}))
}

// fakeVault speaks HashiCorp Vault's transit secrets engine API
// (POST /v1/transit/encrypt/<key> and /v1/transit/decrypt/<key> with an
// X-Vault-Token, "vault:v1:" ciphertexts, errors as {"errors": [...]}).
func fakeVault(t *testing.T, token string, calls *atomic.Int32) *httptest.Server {
	s := newSealer(t)
	fail := func(w http.ResponseWriter, status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string][]string{"errors": {msg}})
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("X-Vault-Token") != token {
			fail(w, http.StatusForbidden, "permission denied")
			return
		}
		var in struct{ Plaintext, Ciphertext string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		data := map[string]any{}
		switch {
		case r.Method == http.MethodPut || r.Method == http.MethodPost:
		default:
			fail(w, http.StatusMethodNotAllowed, "unsupported operation")
			return
		}
		switch r.URL.Path {
		case "/v1/transit/encrypt/outcrop-logs":
			p, err := base64.StdEncoding.DecodeString(in.Plaintext)
			if err != nil {
				fail(w, http.StatusBadRequest, "failed to base64-decode plaintext")
				return
			}
			data["ciphertext"] = "vault:v1:" + base64.StdEncoding.EncodeToString(s.seal(p))
			data["key_version"] = 1
		case "/v1/transit/decrypt/outcrop-logs":
			c, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(in.Ciphertext, "vault:v1:"))
			if err != nil {
				fail(w, http.StatusBadRequest, "invalid ciphertext: unable to decode")
				return
			}
			p, err := s.open(c)
			if err != nil {
				fail(w, http.StatusBadRequest, "cipher: message authentication failed")
				return
			}
			data["plaintext"] = base64.StdEncoding.EncodeToString(p)
		default:
			fail(w, http.StatusNotFound, "no handler for route "+r.URL.Path)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"data": data})
	}))
}

// TestInvocationLogKeepers runs invocation logging with its data keys
// wrapped by AWS KMS and by Vault's transit engine (fakes that speak each
// service's protocol): the objects hold no plaintext, and the keeper named
// by the same URL opens them.
func TestInvocationLogKeepers(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDKMSTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "kms-test-secret")
	var kmsCalls, vaultCalls atomic.Int32
	kms := fakeKMS(t, &kmsCalls)
	defer kms.Close()
	vault := fakeVault(t, "s.outcrop-test", &vaultCalls)
	defer vault.Close()
	// The hashivault driver reads its server and token from the
	// environment once per process.
	t.Setenv("VAULT_SERVER_URL", vault.URL)
	t.Setenv("VAULT_SERVER_TOKEN", "s.outcrop-test")

	for _, tc := range []struct {
		name, url string
		calls     *atomic.Int32
	}{
		{"awskms", "awskms://alias/outcrop-logs?region=us-east-1&endpoint=" + kms.URL, &kmsCalls},
		{"hashivault", "hashivault://outcrop-logs", &vaultCalls},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := outcroptest.NewServer(t, outcroptest.Options{Mutate: func(c *config.Config) { c.InvocationLogging.Keeper = tc.url }})
			ctx := context.Background()
			cfg := &bt.LoggingConfig{S3Config: &bt.S3Config{BucketName: aws.String("logs")}, TextDataDeliveryEnabled: aws.Bool(true)}
			if _, err := bedrockClient(srv, srv.Key.ID, srv.Key.Secret).PutModelInvocationLoggingConfiguration(ctx,
				&bedrock.PutModelInvocationLoggingConfigurationInput{LoggingConfig: cfg}); err != nil {
				t.Fatal(err)
			}
			const canary = "canary-7f3e9 sealed by the key service"
			if _, err := runtimeClient(srv, srv.Key.ID, srv.Key.Secret).Converse(ctx, &bedrockruntime.ConverseInput{
				ModelId: aws.String(echoModel), Messages: userText(canary)}); err != nil {
				t.Fatal(err)
			}
			if err := srv.Srv.FlushInvocationLog(ctx); err != nil {
				t.Fatal(err)
			}
			if tc.calls.Load() == 0 {
				t.Fatal("the key service was never called")
			}
			keeper, err := secrets.OpenKeeper(ctx, tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer keeper.Close()
			var found int
			filepath.WalkDir(filepath.Join(srv.Config.DataDir, "buckets", "logs"), func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, _ := os.ReadFile(p)
				if bytes.Contains(b, []byte("canary-7f3e9")) {
					t.Errorf("%s holds the prompt in plaintext", p)
				}
				if !strings.HasSuffix(p, ".json.gz.enc") {
					return nil
				}
				recs, err := invlog.ReadRecords(ctx, keeper, b)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				for _, r := range recs {
					if in, _ := json.Marshal(r.Input); bytes.Contains(in, []byte(canary)) {
						found++
					}
				}
				return nil
			})
			if found != 1 {
				t.Fatalf("records with the prompt = %d, want 1", found)
			}
			// A key the service does not have is an error, not a silent
			// fallback.
			other, err := secrets.OpenKeeper(ctx, strings.Replace(tc.url, "outcrop-logs", "other", 1))
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if _, err := other.Encrypt(ctx, []byte("x")); err == nil {
				t.Error("encrypted under a key the service does not have")
			}
		})
	}
	// A keeper URL this build cannot open is refused at start with the
	// list of the ones it can.
	c, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = t.TempDir()
	c.Backends = map[string]config.Backend{"echo": {Kind: "echo"}}
	c.Models = outcroptest.EchoModels
	c.InvocationLogging.Keeper = "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k"
	srv, err := server.New(context.Background(), server.Options{Config: c, Logger: slog.New(slog.DiscardHandler),
		Providers: []provider.Spec{providertest.EchoSpec}, Families: outcroptest.DefaultFamilies()})
	if err == nil {
		srv.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "awskms://") {
		t.Errorf("gcpkms keeper: %v, want an error naming the keepers this build has", err)
	}
}
