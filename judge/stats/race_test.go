//go:build race

package stats

// raceEnabled: the race detector slows the simulations about tenfold, so
// they run fewer canaries (see simRuns).
const raceEnabled = true
