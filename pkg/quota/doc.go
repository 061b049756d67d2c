// Package quota is the daily-quota breaker. WeChat counts each account's
// calls to each API per day and, past the quota, answers errcode 45009
// until its daily reset (midnight Beijing time, 16:00 UTC). Once WeChat has
// said so for an API, a Breaker answers for it until the reset, so that a
// burst of work fails at once, as a configuration failure kept for a
// redrive, instead of knocking on WeChat with every event.
//
// A Breaker lives in one container: the composition root builds one for
// the deployment, and the WeChat client keys it by app and API
// (wechat.Options.QuotaScope), as WeChat counts each account's quota
// apart. Each container learns of a spent quota from its own first 45009,
// so a deployment makes at most one refused call per container, app and
// API a day. docs/reliability.md, "Bursts", says why it is not shared through the
// bucket.
package quota
