package heroa

import "testing"

// BenchmarkCgoNoop is a bare call into the library (beside BenchmarkAgentsGet).
func BenchmarkCgoNoop(b *testing.B) {
	for range b.N {
		noop()
	}
}
