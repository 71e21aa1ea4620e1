// Package clientit tests the client library (package client) end to end
// against the real servers — mgs, mdt and ost, each on its own LNet node
// over lolnd, all in this process — and benchmarks its I/O over socklnd on
// 127.0.0.1. The client package itself cannot import the servers (they are
// its peers in the layering), so these tests live here.
package clientit
