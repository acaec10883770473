package store

import "testing"

// SetExactLeadSamples lowers the count beyond which DORA's lead time comes
// from the histograms, for the test.
func SetExactLeadSamples(t *testing.T, n int) {
	old := exactLeadSamples
	exactLeadSamples = n
	t.Cleanup(func() { exactLeadSamples = old })
}
