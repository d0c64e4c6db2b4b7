// Package examples holds Go versions of the Native Messaging example
// programs, each a main package in its own directory (see README.md), and
// the test that builds and runs them against a real agent and the omniORB
// StockManager target.
package examples
