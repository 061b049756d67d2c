// Package media holds WeChat's media rules: the types, their size limits and
// allowed formats, and format detection from a file's first bytes.
package media
