// Package plot draws time series as self-contained SVG for gohere's pages:
// no JavaScript, no external assets, readable in any browser and in a
// screenshot. Baseline and canary are told apart by class (colour and dash)
// so the page's stylesheet and a colour-blind reader both can.
//
// It imports nothing of gohere's.
package plot
