// Package examples holds the Go versions of seed 003's Native Messaging
// programs, each a main package in its own directory (see README.md), and
// the test that builds and runs them against a real agent and the omniORB
// StockManager target.
package examples
