// Package freeport finds a TCP port on 127.0.0.1 that nothing listens on,
// for test harnesses that start servers taking a port number (PostgreSQL,
// VictoriaMetrics, Prometheus, gohere serve).
package freeport

import "net"

// Get returns a port that was free a moment ago. Another process may take
// it before the caller's server binds it; harnesses retry on that.
func Get() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
