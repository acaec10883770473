//go:build race

package judge

// raceEnabled: the race detector slows the simulations about tenfold, so
// they run fewer canaries.
const raceEnabled = true
