package failure

// WeChat's errcodes that wxmedia answers or reads, each named once: its
// errmsg as WeChat writes it, then what it means here. An adapter picks the
// code a failure is answered with; the edges and the WeChat client read it.
const (
	// CodeSystem (-1, "system error"): WeChat is busy, try again later.
	// wxmedia answers it for every failure that is not the caller's.
	CodeSystem = -1

	// CodeInvalidCredential (40001, "invalid credential"): the access token
	// is invalid or not the latest, so it is fetched again; answered to
	// stable_token, the AppSecret is wrong.
	CodeInvalidCredential = 40001
	// CodeInvalidGrantType (40002, "invalid grant_type"): a token request
	// whose grant_type is not client_credential.
	CodeInvalidGrantType = 40002
	// CodeInvalidMediaType (40004, "invalid media type"): a type that is not
	// image, voice, video or thumb.
	CodeInvalidMediaType = 40004
	// CodeInvalidFileType (40005, "invalid file type"): a file whose format
	// its type does not take.
	CodeInvalidFileType = 40005
	// CodeInvalidMediaSize (40006, "invalid media size"): a file, or a
	// request body, over its limit.
	CodeInvalidMediaSize = 40006
	// CodeInvalidMediaID (40007, "invalid media_id"): a media_id WeChat does
	// not know, or no longer keeps.
	CodeInvalidMediaID = 40007
	// CodeInvalidImageSize (40009, "invalid image size"): an image, or an
	// article image, over its limit.
	CodeInvalidImageSize = 40009
	// CodeInvalidVoiceSize (40010, "invalid voice size"): a voice file over
	// its limit.
	CodeInvalidVoiceSize = 40010
	// CodeInvalidVideoSize (40011, "invalid video size"): a video over its
	// limit.
	CodeInvalidVideoSize = 40011
	// CodeInvalidThumbSize (40012, "invalid thumb size"): a thumb over its
	// limit.
	CodeInvalidThumbSize = 40012
	// CodeInvalidAppID (40013, "invalid appid"): an AppID WeChat, or this
	// deployment, does not know.
	CodeInvalidAppID = 40013
	// CodeInvalidAccessToken (40014, "invalid access_token"): the access
	// token is refused, so it is fetched again.
	CodeInvalidAccessToken = 40014
	// CodeInvalidParam (40035, "invalid parameter"): a parameter WeChat
	// refuses; wxmedia answers it for a request of no route, an event that
	// is no request, and a key that names no object.
	CodeInvalidParam = 40035
	// CodeInvalidAppSecret (40125, "invalid appsecret"): the AppSecret in
	// the app's secret is wrong.
	CodeInvalidAppSecret = 40125
	// CodeIPNotAllowed (40164, "invalid ip, not in whitelist"): the egress
	// IP is not in the account's IP allow-list.
	CodeIPNotAllowed = 40164
	// CodeMediaMissing (41005, "media data missing"): no file, or an empty
	// one (WeChat also answers it to non-ASCII file names and chunked
	// bodies).
	CodeMediaMissing = 41005
	// CodeMediaIDMissing (41006, "media_id missing"): no media_id given.
	CodeMediaIDMissing = 41006
	// CodeAccessTokenExpired (42001, "access_token expired"): the access
	// token is fetched again.
	CodeAccessTokenExpired = 42001
	// CodeDailyQuota (45009, "reach max api daily quota limit"): the API's
	// daily quota is spent until WeChat's daily reset.
	CodeDailyQuota = 45009
	// CodeMinuteQuota (45011, "api minute-quota reach limit"): the API's
	// per-minute limit, which passes within the minute.
	CodeMinuteQuota = 45011
	// CodeDataFormat (47001, "data format error"): malformed JSON or
	// multipart.
	CodeDataFormat = 47001
	// CodeAPIUnauthorized (48001, "api unauthorized"): the account may not
	// call this API.
	CodeAPIUnauthorized = 48001
	// CodeUserUnauthorized (50001, "user unauthorized"): the account is not
	// authorized for this API.
	CodeUserUnauthorized = 50001
	// CodeUserLimited (50002, "user limited"): the account is restricted.
	CodeUserLimited = 50002

	// A third-party platform's errcodes (WeChat's open-platform documents).

	// CodeTicketInvalid (61006): the component_verify_ticket is unknown or
	// too old.
	CodeTicketInvalid = 61006
	// CodeAuthCodeInvalid (61009): the authorization code is invalid, or
	// used already.
	CodeAuthCodeInvalid = 61009
	// CodeAuthCodeExpired (61010): the authorization code has expired.
	CodeAuthCodeExpired = 61010
	// CodeRefreshTokenInvalid (61023): the authorizer's refresh token is
	// refused: the account authorises the platform again, or an operator
	// registers a new one.
	CodeRefreshTokenInvalid = 61023
	// CodeComponentUnauthorized (61024): the platform is not authorized for
	// this account or this API.
	CodeComponentUnauthorized = 61024
)
