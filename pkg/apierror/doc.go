// Package apierror classifies every error of the service, in one place,
// into what a caller sees: an HTTP status, a WeChat-shaped errcode, a
// message safe to show, and whether trying again may help.
//
// WeChat's own errcodes are kept where WeChat would give them, so clients
// that already handle WeChat errors keep working. Internal errors are
// answered with a generic message; their detail goes only to the logs.
package apierror
