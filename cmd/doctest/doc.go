// Package doctest holds the tests of README.md and docs/: every relative
// link resolves and lines stay short (links_test.go), and every shell
// example runs against a built `make local` with the output it shows
// (examples_test.go). It has no runtime code.
package doctest
