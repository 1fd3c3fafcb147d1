package heroa_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heroa/heroa-sdk/bindings-go"
)

// eventually polls f every 20 ms until it holds, for at most 20 s.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if f() {
			return
		}
	}
	t.Fatalf("never: %s", what)
}

// webhookReceiver serves on loopback and counts the deliveries whose signature
// verifies with secret.
func webhookReceiver(t *testing.T, secret string) (string, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var verified atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := heroa.VerifyWebhook(r.Header, body, []string{secret}, heroa.VerifyOptions{}); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		verified.Add(1)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String() + "/hook", &verified
}

// Every resource of the catalogue, on both transports: the workspace, the vault
// (list, rotate, delete), policy versions, an L2 write held for approval then
// approved (a sub-agent deployed by the heroa:deploy skill) and one denied,
// deployments listed, extended and deleted, runs listed, the audit read and
// verified, webhook deliveries read and redelivered, and the L1 inbox.
func TestEveryResource(t *testing.T) {
	onBoth(t, func(t *testing.T, c *heroa.Client) {
		ctx := context.Background()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}

		ws, err := c.Workspace.Get(ctx)
		must(err)
		if !strings.HasPrefix(ws.ID, "ws_") || ws.Tier == "" {
			t.Fatalf("workspace: %+v", ws)
		}
		skills, err := c.Workspace.Skills(ctx)
		must(err)
		if !slicesContainsFunc(skills, func(s heroa.SkillInfo) bool { return s.Name == "heroa:deploy" && s.Kind == "write" }) {
			t.Fatalf("skills: %+v", skills)
		}
		templates, err := c.Workspace.Templates(ctx)
		must(err)
		if !slicesContainsFunc(templates, func(tpl heroa.TemplateInfo) bool { return tpl.Name == "sequence" }) {
			t.Fatalf("templates: %+v", templates)
		}

		a, err := c.Agents.Register(ctx, heroa.RegisterAgent{Name: "resources", Region: "us-east"})
		must(err)

		// The vault: metadata only, rotation bumps the version and the fingerprint.
		put, err := c.Vault.Put(ctx, heroa.VaultPut{AgentID: a.ID, Key: "crm_token", Value: "first-secret-value"})
		must(err)
		rotated, err := c.Vault.Rotate(ctx, put.ID, "second-secret-value")
		must(err)
		if rotated.Version != 2 || rotated.Fingerprint == put.Fingerprint {
			t.Fatalf("rotate: %+v after %+v", rotated, put)
		}
		page, err := c.Vault.List(ctx, heroa.AgentListOptions{AgentID: a.ID})
		must(err)
		if len(page.Items) != 1 || page.Items[0].Version != 2 || page.NextCursor != nil {
			t.Fatalf("vault list: %+v", page)
		}
		must(c.Vault.Delete(ctx, put.ID))
		if _, err := c.Vault.Get(ctx, put.ID); !errors.Is(err, heroa.ErrNotFound) {
			t.Fatalf("deleted secret: %v", err)
		}
		n := 0
		for _, err := range c.Vault.All(ctx, a.ID) {
			must(err)
			n++
		}
		if n != 0 {
			t.Fatalf("%d secrets after the delete", n)
		}

		// Policy versions: the dialect's document and the Cedar evaluated.
		v1, err := c.Policies.Create(ctx, a.ID, `permit(principal, action, resource) when { context.run_cost_usd < 0.5 };`)
		must(err)
		v2, err := c.Policies.Create(ctx, a.ID, "permit(principal, action, resource);")
		must(err)
		if v2.Version != v1.Version+1 || len(v1.Translations) == 0 || !strings.Contains(v1.Cedar, "decimal") {
			t.Fatalf("versions: %+v %+v", v1, v2)
		}
		got, err := c.Policies.Get(ctx, v1.ID)
		must(err)
		if got.Document != v1.Document {
			t.Fatalf("policies.get: %+v", got)
		}
		versions := 0
		for p, err := range c.Policies.All(ctx, a.ID) {
			must(err)
			if p.AgentID != a.ID {
				t.Fatalf("another agent's policy: %+v", p)
			}
			versions++
		}
		if versions != 2 {
			t.Fatalf("%d versions", versions)
		}

		// A completion webhook received on loopback.
		secret := heroa.GenerateWebhookSecret()
		url, verified := webhookReceiver(t, secret)
		_, err = c.Agents.Update(ctx, a.ID, heroa.UpdateAgent{Webhook: &heroa.Webhook{URL: url, SigningSecret: secret}})
		must(err)

		// L2: the write waits for a person; approved, it runs.
		_, err = c.Agents.SetPromotion(ctx, a.ID, "L2_approve")
		must(err)
		deploy := map[string]any{"calls": []any{map[string]any{
			"skill": "heroa:deploy", "args": map[string]any{"mode": "agent", "template": "sequence", "ttl": "10m"},
		}}}
		approve := func(decide func(id string) (*heroa.Approval, error), want string) *heroa.Run {
			t.Helper()
			started, err := c.Agents.Run(ctx, a.ID, deploy)
			must(err)
			var pending heroa.Approval
			eventually(t, "a pending approval", func() bool {
				for ap, err := range c.Approvals.Pending(ctx) {
					must(err)
					if ap.RunID == started.ID {
						pending = ap
						return true
					}
				}
				return false
			})
			if pending.Skill != "heroa:deploy" || !strings.Contains(string(pending.Args), `"template":"sequence"`) {
				t.Fatalf("approval: %+v", pending)
			}
			decided, err := decide(pending.ID)
			must(err)
			if decided.Status != want || decided.DecidedBy == nil || *decided.DecidedBy != "ops@example.com" {
				t.Fatalf("decided: %+v", decided)
			}
			again, err := c.Approvals.Get(ctx, pending.ID)
			must(err)
			if again.Status != want {
				t.Fatalf("approvals.get: %+v", again)
			}
			run, err := c.Runs.Wait(ctx, started.ID, 20*time.Second)
			must(err)
			return run
		}
		run := approve(func(id string) (*heroa.Approval, error) { return c.Approvals.Approve(ctx, id, "ops@example.com") }, "approved")
		if run.Status != "complete" || run.ActionsExecuted != 1 {
			t.Fatalf("approved run: %s, %d executed", run.Status, run.ActionsExecuted)
		}
		denied := approve(func(id string) (*heroa.Approval, error) { return c.Approvals.Deny(ctx, id, "ops@example.com") }, "denied")
		if denied.ActionsSkipped != 1 || denied.ActionsExecuted != 0 {
			t.Fatalf("denied run: %s, %d skipped", denied.Status, denied.ActionsSkipped)
		}
		decidedPage, err := c.Approvals.List(ctx, heroa.ApprovalListOptions{Status: "denied"})
		must(err)
		if len(decidedPage.Items) != 1 {
			t.Fatalf("denied approvals: %+v", decidedPage.Items)
		}

		// The sub-agent the approved write deployed.
		var sub *heroa.Deployment
		for dep, err := range c.Deployments.All(ctx) {
			must(err)
			if dep.ParentAgentID != nil && *dep.ParentAgentID == a.ID {
				sub = &dep
			}
		}
		if sub == nil || sub.Mode != heroa.ModeAgent || sub.TTL != "10m" {
			t.Fatalf("the sub-agent: %+v", sub)
		}
		extended, err := sub.Extend(ctx, "2h")
		must(err)
		if extended.TTL != "2h" || extended.ExpiresAt <= sub.ExpiresAt {
			t.Fatalf("extend: %+v after %+v", extended, sub)
		}
		gone, err := extended.Delete(ctx)
		must(err)
		if gone.Status != "deleted" && gone.Status != "stopped" {
			t.Fatalf("delete: %s", gone.Status)
		}

		// Runs, their audit and its verification.
		runs, err := c.Runs.List(ctx, heroa.AgentListOptions{AgentID: a.ID, Limit: 1})
		must(err)
		if len(runs.Items) != 1 || runs.NextCursor == nil {
			t.Fatalf("runs page: %+v", runs)
		}
		audit, err := c.Runs.Audit(ctx, run.ID, heroa.ListOptions{})
		must(err)
		types := []string{}
		for _, ev := range audit.Events {
			types = append(types, ev.Type)
		}
		if audit.RunID != run.ID || audit.Events[0].PrevHash != strings.Repeat("0", 64) ||
			!strings.Contains(strings.Join(types, ","), "approval.requested,approval.approved,skill.executed,run.completed") {
			t.Fatalf("audit: %v", types)
		}
		check, err := c.Runs.VerifyAudit(ctx, run.ID)
		must(err)
		if !check.Valid || check.Events != int64(len(audit.Events)) {
			t.Fatalf("verify: %+v (%d events read)", check, len(audit.Events))
		}

		// The deliveries of both runs' webhooks, then one sent again.
		var delivery heroa.Delivery
		eventually(t, "two delivered webhooks", func() bool {
			page, err := c.Webhooks.Deliveries(ctx, heroa.AgentListOptions{AgentID: a.ID})
			must(err)
			delivered := 0
			for _, d := range page.Items {
				if d.Status == "delivered" {
					delivered++
					delivery = d
				}
			}
			return delivered == 2 && verified.Load() == 2
		})
		one, err := c.Webhooks.Delivery(ctx, delivery.ID)
		must(err)
		if len(one.Attempts) != 1 || one.Attempts[0].StatusCode == nil || *one.Attempts[0].StatusCode != 200 {
			t.Fatalf("delivery: %+v", one)
		}
		_, err = c.Webhooks.Redeliver(ctx, delivery.ID)
		must(err)
		eventually(t, "the redelivery", func() bool { return verified.Load() == 3 })

		// L1 notify: each run leaves a note in the inbox.
		_, err = c.Agents.SetPromotion(ctx, a.ID, "L1_notify")
		must(err)
		started, err := c.Agents.Run(ctx, a.ID, map[string]any{"calls": []any{map[string]any{"skill": "heroa:echo", "args": map[string]any{}}}})
		must(err)
		_, err = c.Runs.Wait(ctx, started.ID, 20*time.Second)
		must(err)
		inbox, err := c.Workspace.Inbox(ctx, heroa.ListOptions{})
		must(err)
		if !slicesContainsFunc(inbox.Items, func(i heroa.InboxItem) bool { return i.RunID == started.ID && i.Message != "" }) {
			t.Fatalf("inbox: %+v", inbox.Items)
		}
	})
}

func slicesContainsFunc[T any](s []T, f func(T) bool) bool {
	for _, v := range s {
		if f(v) {
			return true
		}
	}
	return false
}
