package heroa_test

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/heroa/heroa-sdk/bindings-go"
)

// The pieces random streams are made of: field names, separators, every kind of
// line end, a BOM and its parts, invalid and multibyte UTF-8, NUL and digits.
var ssePieces = [][]byte{
	[]byte("data"), []byte("event"), []byte("id"), []byte("retry"), []byte("x"),
	[]byte(":"), []byte(": "), []byte(" "), []byte("\n"), []byte("\r"), []byte("\r\n"), []byte("\n\n"),
	[]byte("7"), []byte("123"), []byte("é"), []byte("😀"), {0}, {0xEF, 0xBB, 0xBF}, {0xEF, 0xBB},
	{0xE2, 0x82}, {0x80}, {0xC0, 0xAF}, {0xED, 0xA0, 0x80}, {0xF4, 0x90}, {0xFF}, {0xF0, 0x9F},
}

func goDecode(input []byte, step int) ([]heroa.SSEEvent, string, int64) {
	d := heroa.NewSSEDecoder("")
	events := []heroa.SSEEvent{}
	for i := 0; i < len(input); i += step {
		events = append(events, d.Feed(input[i:min(i+step, len(input))])...)
	}
	d.Finish()
	return events, d.LastEventID(), d.Retry()
}

func agree(t *testing.T, input []byte, step int) {
	t.Helper()
	gotEvents, gotID, gotRetry := goDecode(input, step)
	wantEvents, wantID, wantRetry := heroa.CoreDecode(input, step)
	if !reflect.DeepEqual(gotEvents, wantEvents) || gotID != wantID || gotRetry != wantRetry {
		t.Fatalf("input %q (step %d):\n  Go:   %+v %q %d\n  core: %+v %q %d", input, step, gotEvents, gotID, gotRetry, wantEvents, wantID, wantRetry)
	}
}

// The Go decoder and the core's decode 3,000 random streams alike, each whole and
// in random chunks (a fixed seed: a failure reproduces).
func TestSSEDecoderAgreesWithTheCore(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 42))
	for range 3000 {
		var input []byte
		for range r.IntN(40) {
			input = append(input, ssePieces[r.IntN(len(ssePieces))]...)
		}
		agree(t, input, len(input)+1)
		agree(t, input, 1+r.IntN(7))
	}
}

// The same comparison as a fuzz target (`go test -fuzz FuzzSSEDecoder`); its seeds
// run with the suite.
func FuzzSSEDecoder(f *testing.F) {
	for _, p := range ssePieces {
		f.Add(append([]byte("data: a"), p...), 3)
	}
	f.Add([]byte("\xEF\xBB\xBFid: 1\r\ndata: x\r\r\nretry: 99\n\n"), 1)
	f.Fuzz(func(t *testing.T, input []byte, step int) {
		if step < 1 || step > len(input)+1 {
			step = len(input) + 1
		}
		agree(t, input, step)
	})
}
