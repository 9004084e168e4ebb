// Package auth knows who may publish to the tracker and who administers
// it: the publishers and admins named in tokens files (one "name token" a
// line, see Parse) and the publishers of --token, looked up by the bearer
// token a request carries. A Keyring holds the set in use, so that a reload
// (SIGHUP) swaps it for the next request without a restart.
//
// Tokens are secrets: no error message, log line or stored value of this
// package holds one. Files that group or others may read are refused.
package auth
