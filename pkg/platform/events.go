package platform

import (
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
	"github.com/wxmedia/wxmedia/pkg/wechat"
	"github.com/wxmedia/wxmedia/pkg/wxcrypt"
)

// Why a push is refused; none changes anything.
var (
	ErrStale     = errors.New("the push's CreateTime is too far from now, or from its timestamp")
	ErrMalformed = errors.New("malformed push")
	ErrAppID     = errors.New("the push is for another platform")
)

// Push is one decrypted push (the fields of the events the platform acts on).
type Push struct {
	AppID                 string `xml:"AppId"`
	CreateTime            int64  `xml:"CreateTime"`
	InfoType              string `xml:"InfoType"`
	ComponentVerifyTicket string `xml:"ComponentVerifyTicket"`
	AuthorizerAppID       string `xml:"AuthorizerAppid"`
	AuthorizationCode     string `xml:"AuthorizationCode"`
}

// MaxPush bounds a push's body: a longer one is malformed.
const MaxPush = 64 << 10

// Receive verifies, opens and acts on one push as WeChat posts it to
// routes.PathPlatformEvents: query is its URL's query (timestamp, nonce,
// msg_signature, encrypt_type), body its body. A push with a bad signature
// (wxcrypt.ErrSignature), for another platform (ErrAppID, wxcrypt.ErrAppID),
// stale (ErrStale) or malformed (ErrMalformed, wxcrypt.ErrMalformed) is
// refused having changed nothing; one acted on already is ErrSeen, one
// another delivery is acting on ErrInProgress. The push is returned as
// far as it was opened, for the log.
func (p *Platform) Receive(ctx context.Context, query url.Values, body []byte) (Push, error) {
	if len(body) > MaxPush {
		return Push{}, fmt.Errorf("%w: body over %d bytes", ErrMalformed, MaxPush)
	}
	return p.handle(ctx, query.Get("encrypt_type"), wxcrypt.Envelope{Body: body, Timestamp: query.Get("timestamp"),
		Nonce: query.Get("nonce"), Signature: query.Get("msg_signature")})
}

// handle verifies, opens and acts on one push. Every check comes before
// the store is written.
func (p *Platform) handle(ctx context.Context, encryptType string, e wxcrypt.Envelope) (Push, error) {
	c, err := p.component(ctx)
	if err != nil {
		return Push{}, err
	}
	if encryptType != "aes" {
		return Push{}, fmt.Errorf("%w: want encrypt_type=aes", ErrMalformed)
	}
	cr, err := wxcrypt.New(c.Token(), c.EncodingAESKey(), c.AppID)
	if err != nil {
		return Push{}, failure.Wrap(failure.Config, failure.CodeSystem, err, "system error: the platform's token or EncodingAESKey is malformed")
	}
	msg, err := cr.Open(e)
	if err != nil {
		return Push{}, err
	}
	var push Push
	if err := xml.Unmarshal(msg, &push); err != nil {
		return Push{}, fmt.Errorf("%w: the decrypted message is no XML", ErrMalformed)
	}
	now := p.o.Now()
	created, err := p.fresh(e.Timestamp, push.CreateTime, now)
	if err != nil {
		return Push{}, err
	}
	if push.AppID != c.AppID {
		return push, ErrAppID
	}
	// A push acted on is noted by its signature until its CreateTime is
	// stale: the same push again (WeChat's retry after a lost answer, or
	// one replayed by whoever copied it) is answered and changes nothing.
	// One delivery at a time acts on it, under a lease (a conditional
	// write); another meanwhile is refused for WeChat to push it again.
	seen, until := pushKey(c.AppID, strings.ToLower(e.Signature)), created.Add(p.o.MaxSkew+time.Minute)
	if _, dup, err := p.o.Store.Get(ctx, seen); err != nil || dup {
		return push, cmp.Or(err, ErrSeen)
	}
	if got, err := p.o.Store.Lease(ctx, seen, p.o.Owner, now, until); err != nil || !got {
		return push, cmp.Or(err, ErrInProgress)
	}
	if err := p.act(ctx, c.AppID, push, now); err != nil {
		// Not acted on: WeChat's next push of it may be.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if rerr := p.o.Store.Release(rctx, tokentable.Lease{Key: seen, Owner: p.o.Owner}); rerr != nil {
			p.o.Logger.WarnContext(ctx, "cannot release a push's lease; it ends when the push is stale", "error", rerr.Error())
		}
		return push, err
	}
	if err := p.o.Store.Put(ctx, tokentable.NewRecord(seen, "acted", until)); err != nil {
		// Acted on: answered so; its lease holds off another push of it.
		p.o.Logger.WarnContext(ctx, "cannot note a push acted on", "info_type", push.InfoType, "error", err.Error())
	}
	return push, nil
}

// fresh is a push's CreateTime, if it is within the skew of now. Its
// freshness is judged by CreateTime, which the signature's ciphertext
// holds, not by the query's timestamp alone: msg_signature is a hash of
// the sorted (token, timestamp, nonce, ciphertext), so a copy with its
// timestamp and nonce swapped still verifies. A timestamp that disagrees
// with CreateTime by more than the skew is refused too.
func (p *Platform) fresh(timestamp string, createTime int64, now time.Time) (time.Time, error) {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: timestamp %q", ErrMalformed, truncate(timestamp))
	}
	if createTime <= 0 {
		return time.Time{}, fmt.Errorf("%w: no CreateTime", ErrMalformed)
	}
	created := time.Unix(createTime, 0)
	if d := now.Sub(created); d > p.o.MaxSkew || d < -p.o.MaxSkew {
		return time.Time{}, fmt.Errorf("%w: created %s off", ErrStale, d.Round(time.Second))
	}
	if d := time.Unix(ts, 0).Sub(created); d > p.o.MaxSkew || d < -p.o.MaxSkew {
		return time.Time{}, fmt.Errorf("%w: its timestamp is %s off its CreateTime", ErrStale, d.Round(time.Second))
	}
	return created, nil
}

// pushKey is where a push acted on is noted: its signature, checked to
// be the platform's, names it, in lower case as it is checked (a copy in
// upper case is the same push).
func pushKey(c, signature string) string { return "push#" + c + "#" + signature }

// ErrSeen is a push acted on already: it is answered as acted on again.
var ErrSeen = errors.New("the push was acted on already")

// ErrInProgress is a push another delivery is acting on: it is refused,
// for WeChat to push it again.
var ErrInProgress = errors.New("the push is being acted on by another delivery")

// act does what push asks of platform c.
func (p *Platform) act(ctx context.Context, c string, push Push, now time.Time) error {
	switch push.InfoType {
	case "component_verify_ticket":
		if push.ComponentVerifyTicket == "" {
			return fmt.Errorf("%w: no ComponentVerifyTicket", ErrMalformed)
		}
		return p.o.Store.Put(ctx, tokentable.NewRecord(ticketKey(c), push.ComponentVerifyTicket, now.Add(TicketLifetime)))
	case "authorized", "updateauthorized":
		return p.authorized(ctx, c, push)
	case "unauthorized":
		if err := p.o.Store.Delete(ctx, refreshKey(c, push.AuthorizerAppID)); err != nil {
			return err
		}
		p.drop(authorizerKey(c, push.AuthorizerAppID))
		p.mu.Lock()
		delete(p.confirmed, refreshKey(c, push.AuthorizerAppID))
		p.mu.Unlock()
		return p.o.Store.Delete(ctx, authorizerKey(c, push.AuthorizerAppID))
	}
	return nil // other events (notify_third_fasteregister, …) ask nothing of this platform
}

// authorized exchanges an authorization's code for the authorizer's tokens.
func (p *Platform) authorized(ctx context.Context, c string, push Push) error {
	if push.AuthorizationCode == "" || push.AuthorizerAppID == "" {
		return fmt.Errorf("%w: no AuthorizationCode or AuthorizerAppid", ErrMalformed)
	}
	var at wechat.AuthorizerToken
	err := p.withComponentToken(ctx, c, func(ct string) (err error) {
		at, err = p.o.WeChat.QueryAuth(ctx, ct, c, push.AuthorizationCode)
		return err
	})
	if err != nil {
		return err
	}
	if at.AppID != push.AuthorizerAppID {
		return fmt.Errorf("%w: api_query_auth answered authorizer %s for a push of %s", ErrMalformed, at.AppID, push.AuthorizerAppID)
	}
	// The refresh token is what is kept: the authorizer's first call
	// fetches its access token with it, as every later one does.
	p.drop(authorizerKey(c, at.AppID))
	return p.o.Store.Put(ctx, tokentable.NewRecord(refreshKey(c, at.AppID), at.RefreshToken, time.Time{}))
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
