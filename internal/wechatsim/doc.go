// Package wechatsim is a WeChat API simulator: an in-process http.Handler that
// answers the access-token, media and third-party platform endpoints of
// api.weixin.qq.com the way WeChat does, and pushes a platform's tickets and
// authorization events as WeChat does, for tests, the local runner and as a
// standalone program (cmd/wechatsim).
//
// Like WeChat, it answers failures with HTTP 200 and a JSON body
// {"errcode":N,"errmsg":"…"} (Content-Type "application/json; encoding=utf-8"),
// except for the front-end answers: HTTP 412 for a chunked upload body and
// HTTP 503 for the ServerError fault.
//
// # WeChat endpoints
//
//   - GET  /cgi-bin/token?grant_type=client_credential&appid=&secret=
//     issues a new token on every call; the previous one stays valid for
//     TokenOverlap.
//   - POST /cgi-bin/stable_token {"grant_type","appid","secret","force_refresh"}
//     returns the current stable token with its remaining lifetime, and a new
//     one in the old one's last StableRenewal (the old stays valid until it
//     expires); a force refresh issues a new one and invalidates the old at
//     once (at most ForceRefreshPerDay per simulated day, Beijing time; a
//     second one within ForceRefreshInterval refreshes nothing).
//   - POST /cgi-bin/media/upload?access_token=&type=image|voice|video|thumb
//   - GET  /cgi-bin/media/get?access_token=&media_id=
//   - POST /cgi-bin/media/uploadimg?access_token=
//   - POST /cgi-bin/component/api_component_token, api_query_auth and
//     api_authorizer_token: the third-party platform's tokens (Component),
//     from the tickets and authorizations it pushed.
//
// Uploads are multipart/form-data with a file part named "media"; the file
// type is decided by the filename extension, as WeChat does. Media expire
// after MediaLifetime of simulated time; uploadimg images never expire.
//
// # WeChat's call limits
//
// Faults.PerMinute and Faults.PerDay (set by Options.Faults from the start,
// or with POST /_sim/faults like the other faults) are WeChat's limits on
// each media API, counted apart for upload, get and uploadimg on the
// simulator's clock: past PerMinute calls in a minute, 45011 "api
// minute-quota reach limit  mustslower  retry next minute" until the next
// minute; past PerDay calls in a day, 45009 "reach max api daily quota
// limit" until the clock passes midnight Beijing time (16:00 UTC), when
// WeChat resets its daily quotas. Calls with a valid access token count,
// unless the limits refuse them. Advance the
// clock (POST /_sim/clock) to reach the next minute or day at once.
//
// # Simulator endpoints
//
//   - GET  /_sim/stats          → {"token":0,"stable_token":0,"upload":0,"get":0,"uploadimg":0}
//     (and "minute_limited", "quota_spent": calls answered 45011 and 45009, once any)
//   - GET  /_sim/faults         → the current Faults as JSON
//   - POST /_sim/faults         ← Faults JSON (replaces them), → the current Faults
//   - GET  /_sim/clock          → {"now":"RFC 3339","offset":"72h0m0s"}
//   - POST /_sim/clock          ← {"advance":"72h"}, → as GET
//   - POST /_sim/expire-tokens  → {"expired":N}
//   - GET  /_sim/video/{id}     the bytes of an uploaded video (the video_url)
//   - GET  /_sim/img/{id}.jpg   the bytes of an uploadimg image (its url)
//   - POST /_sim/component/push                 a component_verify_ticket pushed now
//   - POST /_sim/component/authorize?appid=     appid authorizes the platform: the event is pushed
//   - POST /_sim/component/unauthorize?appid=   appid withdraws it: its tokens are void, the event pushed
//
// Faults JSON, all fields optional (counters apply to the next N media calls):
//
//	{"ip_blocked":false,"slow":"2s","drop":0,"server_error":0,"busy":0,
//	 "quota":0,"malformed_json":0,"wrong_content_type":0,
//	 "per_minute":0,"per_day":0}
//
// per_minute and per_day are limits in force while set, not counters.
//
// Start and NewTestServer run a Server on 127.0.0.1 with a random port;
// cmd/wechatsim runs one alone (its -per-minute and -per-day flags set the
// limits from the start).
package wechatsim
