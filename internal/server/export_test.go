package server

// SplitLabelSet is splitLabelSet, for the tests of package server_test.
var SplitLabelSet = splitLabelSet
