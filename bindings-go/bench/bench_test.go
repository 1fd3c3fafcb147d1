package bench

// Benchmarks side by side with the usual Go packages, same inputs (go test -bench .):
// webhook verify of 1 KiB against the Standard Webhooks library, the policy
// pre-check against cedar-go (the plain Cedar the Heroa dialect translates into,
// same entities and context; decisions compared first), SSE decoding of 512
// LLM-style events against go-sse, and an embedded agents.get against a bare cgo call.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	sse "github.com/tmaxmax/go-sse"

	"github.com/heroa/heroa-sdk/bindings-go"
)

func webhookFixture(b *testing.B) (http.Header, []byte, string) {
	secret := heroa.GenerateWebhookSecret()
	body := []byte(`{"type":"run.completed","data":{"padding":"` + strings.Repeat("x", 1024-46) + `"}}`)
	signed, err := heroa.SignWebhook(secret, body, "msg_1", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		h.Set(k, signed[k])
	}
	return h, body, secret
}

func BenchmarkWebhookVerify(b *testing.B) {
	h, body, secret := webhookFixture(b)
	peer, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := heroa.VerifyWebhook(h, body, []string{secret}, heroa.VerifyOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := peer.Verify(body, h); err != nil {
		b.Fatal(err)
	}
	b.Run("heroa", func(b *testing.B) {
		for b.Loop() {
			if _, err := heroa.VerifyWebhook(h, body, []string{secret}, heroa.VerifyOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("standardwebhooks", func(b *testing.B) {
		for b.Loop() {
			if err := peer.Verify(body, h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

const seedPolicy = `
    permit(principal, action == Action::"skill:invoke", resource)
    when {
      resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
      && context.run_cost_usd < 0.50
    };
`

// The seed policy in plain Cedar, as heroa translates the dialect.
const seedPolicyCedar = `permit(principal, action == Action::"skill:invoke", resource)
    when {
      ["hubspot:contact:read", "hubspot:contact:enrich"].contains(resource.name)
      && context.run_cost_usd.lessThan(decimal("0.5"))
    };`

func cedarDecimal(b *testing.B, x float64) cedar.Decimal {
	d, err := cedar.NewDecimalFromFloat(x)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func cedarAllow(ps *cedar.PolicySet, entities cedar.EntityMap, req cedar.Request) bool {
	d, _ := cedar.Authorize(ps, entities, req)
	return d == cedar.Allow
}

func BenchmarkPolicyCheck(b *testing.B) {
	engine, err := heroa.NewPolicyEngine(heroa.Document{ID: "po_seed", Text: seedPolicy})
	if err != nil {
		b.Fatal(err)
	}
	defer engine.Close()
	ps, err := cedar.NewPolicySetFromBytes("seed.cedar", []byte(seedPolicyCedar))
	if err != nil {
		b.Fatal(err)
	}
	agent := heroa.CheckAgent{ID: "ag_01hzq3v7k2", Name: "lead-research-v1", Region: "us-east", Promotion: "L3_autonomous"}
	type tc struct {
		skill, kind string
		run         float64
	}
	cases := []tc{{"hubspot:contact:read", "read", 0}, {"hubspot:contact:read", "read", 0.25}, {"hubspot:contact:read", "read", 0.5}, {"hubspot:contact:enrich", "write", 0.3}, {"slack:post", "write", 0}}
	reqs := make([]heroa.CheckRequest, len(cases))
	peerReqs := make([]cedar.Request, len(cases))
	peerEntities := make([]cedar.EntityMap, len(cases))
	principal := cedar.NewEntityUID("Agent", cedar.String(agent.ID))
	for i, c := range cases {
		reqs[i] = heroa.CheckRequest{Agent: agent, Skill: heroa.CheckSkill{Name: c.skill, Kind: c.kind, CostUSD: 0.25}, RunCostUSD: c.run}
		resource := cedar.NewEntityUID("Skill", cedar.String(c.skill))
		peerReqs[i] = cedar.Request{
			Principal: principal,
			Action:    cedar.NewEntityUID("Action", "skill:invoke"),
			Resource:  resource,
			Context:   cedar.NewRecord(cedar.RecordMap{"run_cost_usd": cedarDecimal(b, c.run)}),
		}
		peerEntities[i] = cedar.EntityMap{
			principal: {UID: principal, Attributes: cedar.NewRecord(cedar.RecordMap{
				"id": cedar.String(agent.ID), "name": cedar.String(agent.Name), "region": cedar.String(agent.Region), "promotion": cedar.String(agent.Promotion),
			})},
			resource: {UID: resource, Attributes: cedar.NewRecord(cedar.RecordMap{
				"name": cedar.String(c.skill), "kind": cedar.String(c.kind), "external": cedar.False, "cost_usd": cedarDecimal(b, 0.25),
			})},
		}
		// Same answers first.
		d, err := engine.Check(reqs[i])
		if err != nil {
			b.Fatal(err)
		}
		peer, _ := cedar.Authorize(ps, peerEntities[i], peerReqs[i])
		if d.Allowed != (peer == cedar.Allow) {
			b.Fatalf("case %d: heroa %v, cedar-go %v", i, d.Allowed, peer)
		}
	}
	// An engine bound to the agent (as Policies.Precheck answers it): plain
	// arguments across cgo.
	bound, err := engine.Bind(agent)
	if err != nil {
		b.Fatal(err)
	}
	defer bound.Close()
	for i := range reqs {
		if ok, err := bound.Allows(reqs[i]); err != nil || ok != (cedarAllow(ps, peerEntities[i], peerReqs[i])) {
			b.Fatalf("case %d (bound): %v %v", i, ok, err)
		}
	}
	b.Run(fmt.Sprintf("heroa-allows/%d-checks", len(cases)), func(b *testing.B) {
		for b.Loop() {
			for i := range reqs {
				if _, err := bound.Allows(reqs[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run(fmt.Sprintf("heroa-check/%d-checks", len(cases)), func(b *testing.B) {
		for b.Loop() {
			for i := range reqs {
				if _, err := bound.Check(reqs[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run(fmt.Sprintf("heroa-json/%d-checks", len(cases)), func(b *testing.B) {
		for b.Loop() {
			for i := range reqs {
				if _, err := engine.Check(reqs[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run(fmt.Sprintf("cedar-go/%d-checks", len(cases)), func(b *testing.B) {
		for b.Loop() {
			for i := range peerReqs {
				cedar.Authorize(ps, peerEntities[i], peerReqs[i])
			}
		}
	})
}

func llmStream() []byte {
	var buf bytes.Buffer
	for n := range 512 {
		fmt.Fprintf(&buf, "event: message\ndata: {\"id\":\"chatcmpl-%06d\",\"object\":\"chat.completion.chunk\",\"created\":1746546550,\"model\":\"claude-4-sonnet\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"token %d of the answer\"},\"finish_reason\":null}]}\nid: %d\n\n", n, n, n)
	}
	return buf.Bytes()
}

// chunked reads at most n bytes per Read, as a network body does.
type chunked struct {
	r io.Reader
	n int
}

func (c chunked) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

func BenchmarkSSEDecode(b *testing.B) {
	stream := llmStream()
	ours := func() int {
		d := heroa.NewSSEDecoder("")
		n := 0
		for i := 0; i < len(stream); i += 128 {
			for _, ev := range d.Feed(stream[i:min(i+128, len(stream))]) {
				n += len(ev.Data)
			}
		}
		return n
	}
	peer := func() int {
		n := 0
		for ev, err := range sse.Read(chunked{bytes.NewReader(stream), 128}, nil) {
			if err != nil {
				b.Fatal(err)
			}
			n += len(ev.Data)
		}
		return n
	}
	if a, p := ours(), peer(); a != p {
		b.Fatalf("heroa %d bytes of data, go-sse %d", a, p)
	}
	b.Run("heroa/128-byte-chunks", func(b *testing.B) {
		for b.Loop() {
			ours()
		}
	})
	b.Run("go-sse/128-byte-chunks", func(b *testing.B) {
		for b.Loop() {
			peer()
		}
	})
}

func BenchmarkAgentsGet(b *testing.B) {
	c, err := heroa.Embedded("")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	a, err := c.Agents.Register(ctx, heroa.RegisterAgent{Name: "bench", Region: "us-east"})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Agents.Get(ctx, a.ID); err != nil {
			b.Fatal(err)
		}
	}
}
