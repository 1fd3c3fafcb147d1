package heroa

/*
#include <stdlib.h>
#include "heroa.h"
*/
import "C"

import (
	"encoding/json"
	"net/http"
	"time"
	"unsafe"
)

// WebhookVerificationError is a delivery that failed verification. Reason is
// missing_header, malformed, expired, mismatch or invalid_secret; the message never
// quotes a secret.
type WebhookVerificationError struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (e *WebhookVerificationError) Error() string { return "heroa: webhook: " + e.Message }

// VerifiedDelivery is what VerifyWebhook answers: the Scheme that matched
// (heroa-hmac-sha256 or standard-webhooks), the message id and timestamp (Standard
// Webhooks) and which of the secrets matched.
type VerifiedDelivery struct {
	Scheme      string  `json:"scheme"`
	MsgID       *string `json:"msg_id"`
	Timestamp   *int64  `json:"timestamp"`
	SecretIndex int     `json:"secret_index"`
}

// VerifyOptions tunes VerifyWebhook: Tolerance for the timestamp (0: five minutes),
// Now (zero: the clock), Scheme (auto, heroa-hmac-sha256 or standard-webhooks).
type VerifyOptions struct {
	Tolerance time.Duration
	Now       time.Time
	Scheme    string
}

// VerifyWebhook verifies a delivery you received — headers as received, body the
// exact raw bytes, any of secrets (a rotation) — with the core's constant-time
// verifier for both schemes. A failed delivery is a *WebhookVerificationError.
func VerifyWebhook(headers http.Header, body []byte, secrets []string, opts VerifyOptions) (*VerifiedDelivery, error) {
	// The five headers either scheme reads, as plain C strings (no JSON on this path).
	var hs [len(signatureHeaders)]*C.char
	for i, name := range signatureHeaders {
		// Present but empty is not absent (the verifier says malformed, not missing).
		if vs := headers.Values(name); len(vs) > 0 {
			hs[i] = C.CString(vs[0])
			defer C.free(unsafe.Pointer(hs[i]))
		}
	}
	ks := make([]*C.char, len(secrets))
	for i, s := range secrets {
		ks[i] = C.CString(s)
		defer C.free(unsafe.Pointer(ks[i]))
	}
	tolerance := opts.Tolerance
	if tolerance == 0 {
		tolerance = 5 * time.Minute
	}
	now := int64(-1)
	if !opts.Now.IsZero() {
		now = opts.Now.Unix()
	}
	var cscheme *C.char
	if opts.Scheme != "" {
		cscheme = C.CString(opts.Scheme)
		defer C.free(unsafe.Pointer(cscheme))
	}
	var cbody *C.uint8_t
	if len(body) > 0 {
		cbody = (*C.uint8_t)(unsafe.Pointer(&body[0]))
	}
	var ksp **C.char
	if len(ks) > 0 {
		ksp = &ks[0]
	}
	var out C.HeroaVerified
	// The arrays hold only C pointers (C memory), so passing them is allowed.
	errText := goString(C.heroa_webhook_verify(&hs[0], cbody, C.size_t(len(body)), ksp, C.size_t(len(ks)), C.double(tolerance.Seconds()), C.int64_t(now), cscheme, &out))
	if errText != nil {
		return nil, webhookError(*errText)
	}
	v := &VerifiedDelivery{Scheme: "heroa-hmac-sha256", SecretIndex: int(out.secret_index)}
	if out.scheme == 1 {
		v.Scheme = "standard-webhooks"
		id := headers.Get("webhook-id")
		ts := int64(out.timestamp)
		v.MsgID, v.Timestamp = &id, &ts
	}
	return v, nil
}

// The headers either scheme reads, in the order the library takes them.
var signatureHeaders = [...]string{"webhook-id", "webhook-timestamp", "webhook-signature", "heroa-signature", "x-heroa-signature"}

// SignWebhook answers the headers that sign body with secret for both schemes, as
// message msgID ("" for a new id) at timestamp (zero for now).
func SignWebhook(secret string, body []byte, msgID string, timestamp time.Time) (map[string]string, error) {
	csecret := C.CString(secret)
	defer C.free(unsafe.Pointer(csecret))
	var cid *C.char
	if msgID != "" {
		cid = C.CString(msgID)
		defer C.free(unsafe.Pointer(cid))
	}
	ts := int64(-1)
	if !timestamp.IsZero() {
		ts = timestamp.Unix()
	}
	var cbody *C.uint8_t
	if len(body) > 0 {
		cbody = (*C.uint8_t)(unsafe.Pointer(&body[0]))
	}
	var out *C.char
	if errText := goString(C.heroa_webhook_sign(csecret, cbody, C.size_t(len(body)), cid, C.int64_t(ts), &out)); errText != nil {
		return nil, webhookError(*errText)
	}
	headers := map[string]string{}
	if err := json.Unmarshal([]byte(*goString(out)), &headers); err != nil {
		return nil, &Error{Kind: KindInternal, Message: "signed headers do not decode: " + err.Error()}
	}
	return headers, nil
}

// GenerateWebhookSecret answers a new signing secret (whsec_…).
func GenerateWebhookSecret() string { return *goString(C.heroa_webhook_generate_secret()) }

func webhookError(text string) error {
	var w struct {
		Kind    string `json:"kind"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	if json.Unmarshal([]byte(text), &w) == nil && w.Kind == "webhook" {
		return &WebhookVerificationError{Reason: w.Reason, Message: w.Message}
	}
	return parseError(text)
}
