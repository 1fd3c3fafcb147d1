package heroa

/*
#include <stdlib.h>
#include "heroa.h"

extern void heroaGoComplete(size_t user_data, char *result, char *error);
extern void heroaGoStreamOpened(size_t user_data, HeroaStream *stream, char *error);
*/
import "C"

import (
	"context"
	"encoding/json"
	"iter"
	"time"
	"unsafe"
)

// Agents registers and operates agents.
type Agents struct{ c *Client }

// Register registers an agent (the onboarding guide's step 1).
func (a *Agents) Register(ctx context.Context, in RegisterAgent) (*Agent, error) {
	var out Agent
	return &out, a.c.Call(ctx, "agents.register", in, &out)
}

// Get fetches an agent.
func (a *Agents) Get(ctx context.Context, agentID string) (*Agent, error) {
	var out Agent
	return &out, a.c.Call(ctx, "agents.get", map[string]any{"agent_id": agentID}, &out)
}

// List answers one page of agents.
func (a *Agents) List(ctx context.Context, opts ListOptions) (*Page[Agent], error) {
	var out Page[Agent]
	return &out, a.c.Call(ctx, "agents.list", opts, &out)
}

// All iterates every agent, page by page.
func (a *Agents) All(ctx context.Context) iter.Seq2[Agent, error] {
	return all[Agent](ctx, a.c, "agents.list", map[string]any{})
}

// Update changes an agent.
func (a *Agents) Update(ctx context.Context, agentID string, in UpdateAgent) (*Agent, error) {
	args := merge(in, map[string]any{"agent_id": agentID})
	var out Agent
	return &out, a.c.Call(ctx, "agents.update", args, &out)
}

// SetPromotion sets the agent's promotion level (L0_shadow … L4_trusted).
func (a *Agents) SetPromotion(ctx context.Context, agentID, level string) (*Agent, error) {
	var out Agent
	return &out, a.c.Call(ctx, "agents.set_promotion", map[string]any{"agent_id": agentID, "level": level}, &out)
}

// Run starts a run with input (any JSON value); it answers the queued run.
func (a *Agents) Run(ctx context.Context, agentID string, input any) (*Run, error) {
	if input == nil {
		input = map[string]any{}
	}
	var out Run
	return &out, a.c.Call(ctx, "agents.run", map[string]any{"agent_id": agentID, "input": input}, &out)
}

// Delete deletes an agent.
func (a *Agents) Delete(ctx context.Context, agentID string) error {
	return a.c.Call(ctx, "agents.delete", map[string]any{"agent_id": agentID}, nil)
}

// Vault stores secrets that only skill code reads.
type Vault struct{ c *Client }

// Put stores a secret (the onboarding guide's step 3).
func (v *Vault) Put(ctx context.Context, in VaultPut) (*VaultEntry, error) {
	var out VaultEntry
	return &out, v.c.Call(ctx, "vault.put", in, &out)
}

// List answers one page of secrets' metadata (opts.AgentID: only that agent's).
func (v *Vault) List(ctx context.Context, opts AgentListOptions) (*Page[VaultEntry], error) {
	var out Page[VaultEntry]
	return &out, v.c.Call(ctx, "vault.list", opts, &out)
}

// All iterates every secret's metadata (agentID "": every agent's and the
// workspace's).
func (v *Vault) All(ctx context.Context, agentID string) iter.Seq2[VaultEntry, error] {
	return all[VaultEntry](ctx, v.c, "vault.list", byAgent(agentID))
}

// Get fetches a secret's metadata.
func (v *Vault) Get(ctx context.Context, vaultID string) (*VaultEntry, error) {
	var out VaultEntry
	return &out, v.c.Call(ctx, "vault.get", map[string]any{"vault_id": vaultID}, &out)
}

// Rotate replaces a secret's value (its version goes up; runs in flight keep the
// value they read).
func (v *Vault) Rotate(ctx context.Context, vaultID, value string) (*VaultEntry, error) {
	var out VaultEntry
	return &out, v.c.Call(ctx, "vault.rotate", map[string]any{"vault_id": vaultID, "value": value}, &out)
}

// Delete deletes a secret.
func (v *Vault) Delete(ctx context.Context, vaultID string) error {
	return v.c.Call(ctx, "vault.delete", map[string]any{"vault_id": vaultID}, nil)
}

// Policies are the agents' Cedar envelopes.
type Policies struct{ c *Client }

// Create adds a version of the agent's envelope (the onboarding guide's step 4).
func (p *Policies) Create(ctx context.Context, agentID, document string) (*PolicyVersion, error) {
	var out PolicyVersion
	return &out, p.c.Call(ctx, "policies.create", map[string]any{"agent_id": agentID, "document": document}, &out)
}

// List answers one page of policy versions (opts.AgentID: only that agent's).
func (p *Policies) List(ctx context.Context, opts AgentListOptions) (*Page[PolicyVersion], error) {
	var out Page[PolicyVersion]
	return &out, p.c.Call(ctx, "policies.list", opts, &out)
}

// All iterates every policy version (agentID "": every agent's).
func (p *Policies) All(ctx context.Context, agentID string) iter.Seq2[PolicyVersion, error] {
	return all[PolicyVersion](ctx, p.c, "policies.list", byAgent(agentID))
}

// Get fetches a policy version.
func (p *Policies) Get(ctx context.Context, policyID string) (*PolicyVersion, error) {
	var out PolicyVersion
	return &out, p.c.Call(ctx, "policies.get", map[string]any{"policy_id": policyID}, &out)
}

// Runs reads, waits for, cancels and streams runs.
type Runs struct{ c *Client }

// List answers one page of runs, newest first (opts.AgentID: only that agent's).
func (r *Runs) List(ctx context.Context, opts AgentListOptions) (*Page[Run], error) {
	var out Page[Run]
	return &out, r.c.Call(ctx, "runs.list", opts, &out)
}

// All iterates every run (agentID "": every agent's).
func (r *Runs) All(ctx context.Context, agentID string) iter.Seq2[Run, error] {
	return all[Run](ctx, r.c, "runs.list", byAgent(agentID))
}

// Audit answers one page of the run's hash-chained audit.
func (r *Runs) Audit(ctx context.Context, runID string, opts ListOptions) (*AuditRecord, error) {
	var out AuditRecord
	return &out, r.c.Call(ctx, "runs.audit", merge(opts, map[string]any{"run_id": runID}), &out)
}

// VerifyAudit checks every hash and link of the run's audit chain.
func (r *Runs) VerifyAudit(ctx context.Context, runID string) (*AuditVerification, error) {
	var out AuditVerification
	return &out, r.c.Call(ctx, "runs.verify_audit", map[string]any{"run_id": runID}, &out)
}

// Get fetches a run.
func (r *Runs) Get(ctx context.Context, runID string) (*Run, error) {
	var out Run
	return &out, r.c.Call(ctx, "runs.get", map[string]any{"run_id": runID}, &out)
}

// Wait waits until the run ends: a *Error of kind timeout after timeout (0: five
// minutes), of kind cancelled when ctx ends first.
func (r *Runs) Wait(ctx context.Context, runID string, timeout time.Duration) (*Run, error) {
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	var out Run
	return &out, r.c.Call(ctx, "runs.wait", map[string]any{"run_id": runID, "timeout_ms": timeout.Milliseconds()}, &out)
}

// Cancel cancels a run.
func (r *Runs) Cancel(ctx context.Context, runID string) (*Run, error) {
	var out Run
	return &out, r.c.Call(ctx, "runs.cancel", map[string]any{"run_id": runID}, &out)
}

// Stream iterates the run's events, live, ending after `done`:
//
//	for ev, err := range client.Runs.Stream(ctx, run.ID) { … }
func (r *Runs) Stream(ctx context.Context, runID string) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		stream, err := r.c.openStream(ctx, runID)
		if err != nil {
			yield(Event{}, err)
			return
		}
		defer C.heroa_stream_free(stream)
		for {
			ch := make(chan answer, 1)
			h := newHandle(ch)
			C.heroa_stream_next(stream, C.HeroaCallback(C.heroaGoComplete), C.size_t(h))
			var a answer
			select {
			case a = <-ch:
			case <-ctx.Done():
				// Freeing the stream ends the pending next (it answers the end).
				yield(Event{}, contextError("runs.events", ctx.Err()))
				return
			}
			if a.err != nil {
				yield(Event{}, parseError(*a.err))
				return
			}
			if a.result == nil {
				return
			}
			var ev Event
			if err := json.Unmarshal([]byte(*a.result), &ev); err != nil {
				yield(Event{}, &Error{Kind: KindInternal, Message: "an event does not decode: " + err.Error()})
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

func (c *Client) openStream(ctx context.Context, runID string) (*C.HeroaStream, error) {
	args, _ := json.Marshal(map[string]any{"run_id": runID})
	cop := C.CString("runs.events")
	defer C.free(unsafe.Pointer(cop))
	cargs := C.CString(string(args))
	defer C.free(unsafe.Pointer(cargs))
	ch := make(chan opening[*C.HeroaStream], 1)
	h := newHandle(ch)
	err := c.withNative(func(native *C.HeroaClient) {
		C.heroa_stream_open(native, cop, cargs, C.HeroaStreamCallback(C.heroaGoStreamOpened), C.size_t(h))
	})
	if err != nil {
		deleteHandle(h)
		return nil, err
	}
	return awaitOpening(ctx, "runs.events", ch, func(s *C.HeroaStream) { C.heroa_stream_free(s) })
}

// Deployments lists and manages what Deploy stood up.
type Deployments struct{ c *Client }

// Get fetches a deployment.
func (d *Deployments) Get(ctx context.Context, deploymentID string) (*Deployment, error) {
	var out Deployment
	err := d.c.Call(ctx, "deployments.get", map[string]any{"deployment_id": deploymentID}, &out)
	out.client = d.c
	return &out, err
}

// List answers one page of deployments.
func (d *Deployments) List(ctx context.Context, opts ListOptions) (*Page[Deployment], error) {
	var out Page[Deployment]
	err := d.c.Call(ctx, "deployments.list", opts, &out)
	for i := range out.Items {
		out.Items[i].client = d.c
	}
	return &out, err
}

// All iterates every deployment.
func (d *Deployments) All(ctx context.Context) iter.Seq2[Deployment, error] {
	return func(yield func(Deployment, error) bool) {
		for dep, err := range all[Deployment](ctx, d.c, "deployments.list", map[string]any{}) {
			dep.client = d.c
			if !yield(dep, err) {
				return
			}
		}
	}
}

// Extend sets a deployment's TTL from now (`2h`, `persistent`, …).
func (d *Deployments) Extend(ctx context.Context, deploymentID, ttl string) (*Deployment, error) {
	var out Deployment
	err := d.c.Call(ctx, "deployments.extend", map[string]any{"deployment_id": deploymentID, "ttl": ttl}, &out)
	out.client = d.c
	return &out, err
}

// Delete stops and deletes a deployment; it answers its last state.
func (d *Deployments) Delete(ctx context.Context, deploymentID string) (*Deployment, error) {
	var out Deployment
	err := d.c.Call(ctx, "deployments.delete", map[string]any{"deployment_id": deploymentID}, &out)
	out.client = d.c
	return &out, err
}

// Deploy stands up an app, a service or a sub-agent (the deploy guide): hosting as
// one call.
func (c *Client) Deploy(ctx context.Context, in DeployInput) (*Deployment, error) {
	var out Deployment
	if err := c.Call(ctx, "deploy", in, &out); err != nil {
		return nil, err
	}
	out.client = c
	return &out, nil
}

// Run runs a sub-agent (mode agent) with input and waits for its run to end
// (timeout 0: five minutes). An app or a service has no run loop: a *Error of kind
// failed_precondition, field mode.
func (d *Deployment) Run(ctx context.Context, input any, timeout time.Duration) (*Run, error) {
	if d.Mode != ModeAgent || d.Handle == "" {
		return nil, &Error{Kind: KindFailedPrecondition, Field: "mode", Message: `only a sub-agent (mode "agent") can be run; this deployment's mode is "` + d.Mode + `"`}
	}
	if d.client == nil {
		return nil, unbound()
	}
	run, err := d.client.Agents.Run(ctx, d.Handle, input)
	if err != nil {
		return nil, err
	}
	return d.client.Runs.Wait(ctx, run.ID, timeout)
}

// Extend sets the deployment's TTL from now; it answers the new state.
func (d *Deployment) Extend(ctx context.Context, ttl string) (*Deployment, error) {
	if d.client == nil {
		return nil, unbound()
	}
	return d.client.Deployments.Extend(ctx, d.ID, ttl)
}

// Delete stops and deletes the deployment; it answers its last state.
func (d *Deployment) Delete(ctx context.Context) (*Deployment, error) {
	if d.client == nil {
		return nil, unbound()
	}
	return d.client.Deployments.Delete(ctx, d.ID)
}

func unbound() error {
	return &Error{Kind: KindFailedPrecondition, Message: "this Deployment is not bound to a client: use one answered by Deploy, Deployments.Get or Deployments.List"}
}

// Approvals are the L2 writes waiting for a person.
type Approvals struct{ c *Client }

// List answers one page of approvals (opts.Status: only those).
func (a *Approvals) List(ctx context.Context, opts ApprovalListOptions) (*Page[Approval], error) {
	var out Page[Approval]
	return &out, a.c.Call(ctx, "approvals.list", opts, &out)
}

// Pending iterates the approvals waiting for a decision.
func (a *Approvals) Pending(ctx context.Context) iter.Seq2[Approval, error] {
	return all[Approval](ctx, a.c, "approvals.list", map[string]any{"status": "pending"})
}

// Get fetches an approval.
func (a *Approvals) Get(ctx context.Context, approvalID string) (*Approval, error) {
	var out Approval
	return &out, a.c.Call(ctx, "approvals.get", map[string]any{"approval_id": approvalID}, &out)
}

// Approve lets the write run; by (or "") is who decided, shown in the audit.
func (a *Approvals) Approve(ctx context.Context, approvalID, by string) (*Approval, error) {
	return a.decide(ctx, "approvals.approve", approvalID, by)
}

// Deny skips the write; by (or "") is who decided.
func (a *Approvals) Deny(ctx context.Context, approvalID, by string) (*Approval, error) {
	return a.decide(ctx, "approvals.deny", approvalID, by)
}

func (a *Approvals) decide(ctx context.Context, op, approvalID, by string) (*Approval, error) {
	args := map[string]any{"approval_id": approvalID}
	if by != "" {
		args["by"] = by
	}
	var out Approval
	return &out, a.c.Call(ctx, op, args, &out)
}

// Webhooks reads and replays completion-webhook deliveries.
type Webhooks struct{ c *Client }

// Deliveries answers one page of deliveries (opts.AgentID: only that agent's).
func (w *Webhooks) Deliveries(ctx context.Context, opts AgentListOptions) (*Page[Delivery], error) {
	var out Page[Delivery]
	return &out, w.c.Call(ctx, "webhooks.deliveries", opts, &out)
}

// Delivery fetches a delivery with every attempt.
func (w *Webhooks) Delivery(ctx context.Context, deliveryID string) (*Delivery, error) {
	var out Delivery
	return &out, w.c.Call(ctx, "webhooks.delivery", map[string]any{"delivery_id": deliveryID}, &out)
}

// Redeliver queues a delivery again (same id, so receivers deduplicate).
func (w *Webhooks) Redeliver(ctx context.Context, deliveryID string) (*Delivery, error) {
	var out Delivery
	return &out, w.c.Call(ctx, "webhooks.redeliver", map[string]any{"delivery_id": deliveryID}, &out)
}

// WorkspaceAPI is the workspace the client acts in: its record, the inbox, and
// the skills and templates the runtime offers.
type WorkspaceAPI struct{ c *Client }

// Get fetches the workspace.
func (w *WorkspaceAPI) Get(ctx context.Context) (*Workspace, error) {
	var out Workspace
	return &out, w.c.Call(ctx, "workspace.get", nil, &out)
}

// AcceptSOC2 records the acceptance of the SOC 2 report (required for L4 trusted).
func (w *WorkspaceAPI) AcceptSOC2(ctx context.Context) (*Workspace, error) {
	var out Workspace
	return &out, w.c.Call(ctx, "workspace.accept_soc2", nil, &out)
}

// Inbox answers one page of notifications for people.
func (w *WorkspaceAPI) Inbox(ctx context.Context, opts ListOptions) (*Page[InboxItem], error) {
	var out Page[InboxItem]
	return &out, w.c.Call(ctx, "workspace.inbox", opts, &out)
}

// Skills lists the skills the runtime offers.
func (w *WorkspaceAPI) Skills(ctx context.Context) ([]SkillInfo, error) {
	var out Page[SkillInfo]
	return out.Items, w.c.Call(ctx, "workspace.skills", nil, &out)
}

// Templates lists the templates (run loops) agents can name.
func (w *WorkspaceAPI) Templates(ctx context.Context) ([]TemplateInfo, error) {
	var out Page[TemplateInfo]
	return out.Items, w.c.Call(ctx, "workspace.templates", nil, &out)
}

// byAgent is a list's filter: only agentID's items ("" for all).
func byAgent(agentID string) map[string]any {
	if agentID == "" {
		return map[string]any{}
	}
	return map[string]any{"agent_id": agentID}
}

// all iterates every item of list op, page by page.
func all[T any](ctx context.Context, c *Client, op string, args map[string]any) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		cursor := ""
		for {
			page := map[string]any{"limit": 1000}
			for k, v := range args {
				page[k] = v
			}
			if cursor != "" {
				page["cursor"] = cursor
			}
			var out Page[T]
			if err := c.Call(ctx, op, page, &out); err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range out.Items {
				if !yield(item, nil) {
					return
				}
			}
			if out.NextCursor == nil {
				return
			}
			cursor = *out.NextCursor
		}
	}
}

// merge is v's JSON fields plus extra.
func merge(v any, extra map[string]any) map[string]any {
	out := map[string]any{}
	b, _ := json.Marshal(v)
	_ = json.Unmarshal(b, &out)
	for k, x := range extra {
		out[k] = x
	}
	return out
}
