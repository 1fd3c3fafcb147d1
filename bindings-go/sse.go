package heroa

import (
	"bytes"
	"math"
	"unicode/utf8"
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

var bom = []byte{0xEF, 0xBB, 0xBF}

// SSEDecoder is an incremental `text/event-stream` decoder, the WHATWG algorithm
// exactly as the core's (the shared vectors check both alike): the stream is UTF-8
// with one leading BOM stripped, invalid bytes become U+FFFD per maximal subpart,
// CR, LF and CRLF end lines (also split across chunks), `data` lines are joined
// with LF, `id` carries over and is committed at each blank line (never one with a
// NUL), `retry` only when all digits, and an unfinished event at the end is
// discarded. Feed chunks split anywhere. Not safe for concurrent use.
//
// Written in Go, not a call into the core per chunk: crossing cgo with a chunk
// and back with its events cost 6.6 times go-sse's whole decode (BENCHMARKS.md),
// and a stream is fed chunk by chunk. It works on bytes (a line end is never
// inside a UTF-8 sequence) and decodes each field's value once.
type SSEDecoder struct {
	started bool   // the BOM question is settled
	head    []byte // the stream's first bytes while they may be a BOM
	afterCR bool   // the last chunk ended with CR: a leading LF is its CRLF
	line    []byte // the unfinished line

	data      []byte
	hasData   bool
	eventType []byte
	idBuffer  []byte
	idDirty   bool
	lastID    string
	retry     int64 // -1: none
	evRetry   int64 // a retry seen while building the event; -1: none
}

// NewSSEDecoder starts a decoder, resuming after lastEventID ("" for none).
func NewSSEDecoder(lastEventID string) *SSEDecoder {
	return &SSEDecoder{lastID: lastEventID, idBuffer: []byte(lastEventID), retry: -1, evRetry: -1}
}

// Feed decodes chunk and answers the events it completed.
func (d *SSEDecoder) Feed(chunk []byte) []SSEEvent {
	var out []SSEEvent
	if !d.started {
		d.head = append(d.head, chunk...)
		if len(d.head) < len(bom) && bytes.HasPrefix(bom, d.head) {
			return nil // still maybe a BOM
		}
		d.started = true
		chunk = bytes.TrimPrefix(d.head, bom)
		d.head = nil
	}
	pos := 0
	if d.afterCR && len(chunk) > 0 {
		d.afterCR = false
		if chunk[0] == '\n' {
			pos = 1
		}
	}
	for pos < len(chunk) {
		rest := chunk[pos:]
		end := bytes.IndexAny(rest, "\r\n")
		if end < 0 {
			d.line = append(d.line, rest...)
			break
		}
		next := pos + end + 1
		if rest[end] == '\r' {
			if next == len(chunk) {
				d.afterCR = true
			} else if chunk[next] == '\n' {
				next++
			}
		}
		if len(d.line) > 0 {
			// A line begun in an earlier chunk.
			d.line = append(d.line, rest[:end]...)
			out = d.field(d.line, out)
			d.line = d.line[:0]
		} else {
			out = d.field(rest[:end], out)
		}
		pos = next
	}
	return out
}

// field applies one line (without its line end).
func (d *SSEDecoder) field(line []byte, out []SSEEvent) []SSEEvent {
	if len(line) == 0 {
		return d.dispatch(out)
	}
	name, value := line, []byte(nil)
	if colon := bytes.IndexByte(line, ':'); colon >= 0 {
		name, value = line[:colon], line[colon+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) { // no allocation: the compiler compares in place
	case "data":
		if d.hasData {
			d.data = append(d.data, '\n')
		}
		d.data = append(d.data, value...)
		d.hasData = true
	case "event":
		d.eventType = append(d.eventType[:0], value...)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			d.idBuffer = append(d.idBuffer[:0], value...)
			d.idDirty = true
		}
	case "retry":
		if ms, ok := digits(value); ok {
			d.retry, d.evRetry = ms, ms
		}
	}
	return out
}

// digits is value as a number of milliseconds when it is all ASCII digits
// (saturating: an absurdly long number means "practically never").
func digits(value []byte) (int64, bool) {
	if len(value) == 0 {
		return 0, false
	}
	var ms int64
	for _, c := range value {
		if c < '0' || c > '9' {
			return 0, false
		}
		if ms > (math.MaxInt64-9)/10 {
			ms = math.MaxInt64
		} else {
			ms = ms*10 + int64(c-'0')
		}
	}
	return ms, true
}

func (d *SSEDecoder) dispatch(out []SSEEvent) []SSEEvent {
	if d.idDirty {
		d.lastID = lossy(d.idBuffer)
		d.idDirty = false
	}
	retry := d.evRetry
	d.evRetry = -1
	if !d.hasData {
		d.eventType = d.eventType[:0]
		return out
	}
	ev := SSEEvent{Event: "message", Data: lossy(d.data), ID: d.lastID}
	if len(d.eventType) > 0 {
		ev.Event = lossy(d.eventType)
	}
	if retry >= 0 {
		ev.Retry = retry
	}
	d.hasData = false
	d.data = d.data[:0]
	d.eventType = d.eventType[:0]
	return append(out, ev)
}

// Finish ends the stream: an unfinished line or event is discarded (and its id).
// The last event id and the reconnection time are kept: the decoder is ready for
// the next stream (a reconnection).
func (d *SSEDecoder) Finish() {
	d.started, d.head, d.afterCR = false, nil, false
	d.line, d.data, d.hasData = d.line[:0], d.data[:0], false
	d.eventType, d.evRetry = d.eventType[:0], -1
	if d.idDirty {
		d.idBuffer = append(d.idBuffer[:0], d.lastID...)
		d.idDirty = false
	}
}

// LastEventID is the id of the last dispatched event (carried over).
func (d *SSEDecoder) LastEventID() string { return d.lastID }

// Retry is the reconnection time (ms) of the last valid `retry:` field, or -1.
func (d *SSEDecoder) Retry() int64 { return d.retry }

// lossy decodes b as UTF-8, each maximal subpart of an invalid sequence becoming
// one U+FFFD, as the WHATWG decoder (and Rust's from_utf8_lossy) does; Go's own
// conversions replace byte by byte instead.
func lossy(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
			b = b[invalidPrefix(b):]
			continue
		}
		out = append(out, b[:size]...)
		b = b[size:]
	}
	return string(out)
}

// invalidPrefix is the length of the maximal subpart at the start of b, an
// invalid sequence: its lead byte and the continuation bytes that could still
// have made it valid (Unicode's table of well-formed UTF-8).
func invalidPrefix(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF)
	var need int
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 2
	case c == 0xE0:
		need, lo = 3, 0xA0
	case c == 0xED:
		need, hi = 3, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 3
	case c == 0xF0:
		need, lo = 4, 0x90
	case c == 0xF4:
		need, hi = 4, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 4
	default:
		return 1
	}
	n := 1
	for ; n < need && n < len(b); n++ {
		if n == 1 && (b[1] < lo || b[1] > hi) || n > 1 && (b[n] < 0x80 || b[n] > 0xBF) {
			break
		}
	}
	return n
}
