package heroa

/*
#include <stdlib.h>
#include "heroa.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"unsafe"
)

// SSEEvent is one dispatched server-sent event: its type (`message` by default),
// the data lines joined with LF, the last event id at dispatch, and a retry (ms)
// seen while it was built (0 for none).
type SSEEvent struct {
	Event string `json:"event"`
	Data  string `json:"data"`
	ID    string `json:"id"`
	Retry int64  `json:"retry,omitempty"`
}

// SSEDecoder is the core's incremental `text/event-stream` decoder (WHATWG-exact):
// feed chunks split anywhere. Not safe for concurrent use. Close releases it.
type SSEDecoder struct {
	native *C.HeroaSseDecoder
}

// NewSSEDecoder starts a decoder, resuming after lastEventID ("" for none).
func NewSSEDecoder(lastEventID string) *SSEDecoder {
	var cid *C.char
	if lastEventID != "" {
		cid = C.CString(lastEventID)
		defer C.free(unsafe.Pointer(cid))
	}
	d := &SSEDecoder{native: C.heroa_sse_decoder_new(cid)}
	runtime.SetFinalizer(d, (*SSEDecoder).Close)
	return d
}

// Feed decodes chunk and answers the events it completed.
func (d *SSEDecoder) Feed(chunk []byte) []SSEEvent {
	var p *C.uint8_t
	if len(chunk) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&chunk[0]))
	}
	text := goString(C.heroa_sse_decoder_feed(d.native, p, C.size_t(len(chunk))))
	runtime.KeepAlive(d)
	var events []SSEEvent
	_ = json.Unmarshal([]byte(*text), &events)
	return events
}

// Finish ends the stream: an unfinished event is discarded.
func (d *SSEDecoder) Finish() { C.heroa_sse_decoder_finish(d.native) }

// LastEventID is the id of the last dispatched event (carried over).
func (d *SSEDecoder) LastEventID() string {
	return *goString(C.heroa_sse_decoder_last_event_id(d.native))
}

// Retry is the reconnection time (ms) of the last valid `retry:` field, or -1.
func (d *SSEDecoder) Retry() int64 { return int64(C.heroa_sse_decoder_retry(d.native)) }

// Close releases the decoder. Idempotent.
func (d *SSEDecoder) Close() {
	if d.native != nil {
		C.heroa_sse_decoder_free(d.native)
		d.native = nil
	}
}
