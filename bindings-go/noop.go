package heroa

/*
#include "heroa.h"
*/
import "C"

// noop is a bare call across cgo: the benchmarks' baseline.
func noop() { C.heroa_noop() }
