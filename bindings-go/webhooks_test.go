package heroa_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heroa/heroa-sdk/bindings-go"
)

type webhookCase struct {
	Name      string            `json:"name"`
	Scheme    string            `json:"scheme"`
	Secret    string            `json:"secret"`
	Secrets   []string          `json:"secrets"`
	Body      string            `json:"body"`
	Headers   map[string]string `json:"headers"`
	Now       *int64            `json:"now"`
	Tolerance *float64          `json:"tolerance_seconds"`
	Expect    string            `json:"expect"`
}

// The shared webhook vectors verify as recorded, by their scheme and by auto.
func TestWebhookVectors(t *testing.T) {
	dir := filepath.Join("..", "tests", "vectors", "webhooks")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	n := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var set struct{ Cases []webhookCase }
		if err := json.Unmarshal(raw, &set); err != nil {
			t.Fatal(err)
		}
		for _, c := range set.Cases {
			secrets := c.Secrets
			if secrets == nil {
				secrets = []string{c.Secret}
			}
			h := http.Header{}
			for k, v := range c.Headers {
				h.Set(k, v)
			}
			opts := heroa.VerifyOptions{Tolerance: 300 * time.Second}
			if c.Tolerance != nil {
				opts.Tolerance = time.Duration(*c.Tolerance * float64(time.Second))
				if *c.Tolerance == 0 {
					opts.Tolerance = time.Nanosecond
				}
			}
			if c.Now != nil {
				opts.Now = time.Unix(*c.Now, 0)
			}
			for _, scheme := range []string{c.Scheme, "auto"} {
				opts.Scheme = scheme
				v, err := heroa.VerifyWebhook(h, []byte(c.Body), secrets, opts)
				got := "ok"
				if err != nil {
					var w *heroa.WebhookVerificationError
					if !errors.As(err, &w) {
						t.Fatalf("%s: %v", c.Name, err)
					}
					for _, s := range secrets {
						if s != "" && strings.Contains(w.Message, s) {
							t.Fatalf("%s: a secret in the message", c.Name)
						}
					}
					got = w.Reason
				}
				if got != c.Expect {
					t.Fatalf("%s / %s (%s): got %s, want %s", filepath.Base(f), c.Name, scheme, got, c.Expect)
				}
				if got == "ok" && v.Scheme != c.Scheme {
					t.Fatalf("%s: scheme %s", c.Name, v.Scheme)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no vectors")
	}
}

func TestSignThenVerifyWithRotation(t *testing.T) {
	old, fresh := heroa.GenerateWebhookSecret(), heroa.GenerateWebhookSecret()
	if !strings.HasPrefix(old, "whsec_") || old == fresh {
		t.Fatalf("secrets %q %q", old, fresh)
	}
	body := []byte(`{"type":"run.completed"}`)
	signed, err := heroa.SignWebhook(old, body, "msg_1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for k, v := range signed {
		h.Set(k, v)
	}
	v, err := heroa.VerifyWebhook(h, body, []string{fresh, old}, heroa.VerifyOptions{})
	if err != nil || v.SecretIndex != 1 || v.Scheme != "standard-webhooks" || *v.MsgID != "msg_1" {
		t.Fatalf("verify: %v %+v", err, v)
	}
	_, err = heroa.VerifyWebhook(h, append(body, ' '), []string{old}, heroa.VerifyOptions{})
	var w *heroa.WebhookVerificationError
	if !errors.As(err, &w) || w.Reason != "mismatch" {
		t.Fatalf("changed body: %v", err)
	}
	if _, err := heroa.VerifyWebhook(h, body, []string{old}, heroa.VerifyOptions{Scheme: "nope"}); !errors.Is(err, heroa.ErrInvalidArgument) {
		t.Fatalf("bad scheme: %v", err)
	}
	if _, err := heroa.SignWebhook("whsec_%%%", body, "", time.Time{}); !errors.As(err, &w) || w.Reason != "invalid_secret" {
		t.Fatalf("bad secret: %v", err)
	}
}
