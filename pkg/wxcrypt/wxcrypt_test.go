package wxcrypt_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/wxcrypt"
)

const key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

// Tencent's own sample of WXBizMsgCrypt (WXBizMsgCryptTest.java): this
// message, with these 16 "random" bytes, for this AppID, is this ciphertext.
func TestEncryptMatchesTencentsSample(t *testing.T) {
	c, err := wxcrypt.New("pamtest", key, "wxb11529c136998cb6")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.WithRandom(strings.NewReader("aaaabbbbccccdddd")).Encrypt([]byte("我是中文abcd123"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	msg, err := c.Decrypt(want)
	if err != nil || string(msg) != "我是中文abcd123" {
		t.Fatalf("decrypt: got %q, %v", msg, err)
	}
}

// Tencent's sample of a received message: its msg_signature is the SHA-1
// of the sorted token, timestamp, nonce and ciphertext.
func TestSignatureMatchesTencentsSample(t *testing.T) {
	const enc = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
	c, err := wxcrypt.New("spamtest", key, "wx2c2769f8efd9abc2")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Signature("1409735669", "1320562132", enc); got != "5d197aaffba7e9b25a30732f161a50dee96bd5fa" {
		t.Fatalf("got %s, want the sample's 5d197aaffba7e9b25a30732f161a50dee96bd5fa", got)
	}
	msg, err := c.Decrypt(enc)
	if err != nil || !bytes.Contains(msg, []byte("<xml>")) {
		t.Fatalf("decrypt: got %q, %v", msg, err)
	}
}

// A push opens only with the platform's signature and for its AppID; the
// padding fills whole 32-byte blocks.
func TestOpen(t *testing.T) {
	c, _ := wxcrypt.New("tok", key, "wx-component")
	msg := []byte("<xml><InfoType><![CDATA[component_verify_ticket]]></InfoType></xml>")
	for n := range 70 {
		enc, err := c.Encrypt(bytes.Repeat([]byte("x"), n))
		if err != nil {
			t.Fatal(err)
		}
		if raw, _ := base64.StdEncoding.DecodeString(enc); len(raw)%32 != 0 {
			t.Fatalf("%d bytes: ciphertext of %d bytes, want whole 32-byte blocks", n, len(raw))
		}
		if got, err := c.Decrypt(enc); err != nil || len(got) != n {
			t.Fatalf("%d bytes: got %d bytes, %v", n, len(got), err)
		}
	}
	e, err := c.Seal(msg, "1700000000", "nonce1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Open(e); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("open: got %q, %v", got, err)
	}
	other, _ := wxcrypt.New("tok", key, "wx-other")
	otherEnv, _ := other.Seal(msg, "1700000000", "nonce1")
	wrongToken, _ := wxcrypt.New("not-tok", key, "wx-component")
	wrongTokenEnv, _ := wrongToken.Seal(msg, "1700000000", "nonce1")
	tests := []struct {
		name string
		env  wxcrypt.Envelope
		err  error
	}{
		{"ErrSignature", wxcrypt.Envelope{Body: e.Body, Timestamp: "1700000001", Nonce: e.Nonce, Signature: e.Signature}, wxcrypt.ErrSignature},
		{"ErrWrongToken", wrongTokenEnv, wxcrypt.ErrSignature},
		{"ErrOtherAppID", otherEnv, wxcrypt.ErrAppID},
		{"ErrNotXML", wxcrypt.Envelope{Body: []byte("hello"), Signature: e.Signature}, wxcrypt.ErrMalformed},
		{"ErrTruncated", func() wxcrypt.Envelope {
			enc := "AAAAAAAAAAAAAAAAAAAAAA=="
			return wxcrypt.Envelope{Body: []byte("<xml><Encrypt>" + enc + "</Encrypt></xml>"), Timestamp: "1", Nonce: "n", Signature: c.Signature("1", "n", enc)}
		}(), wxcrypt.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := c.Open(tt.env); !errors.Is(err, tt.err) {
				t.Fatalf("got %q, %v; want %v", got, err, tt.err)
			}
		})
	}
}

// However a Crypter is printed, its token and key are not.
func TestCrypterNeverPrintsItsSecrets(t *testing.T) {
	c, _ := wxcrypt.New("CANARY-TOKEN", key, "wx-component")
	data, _ := json.Marshal(map[string]any{"c": c})
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s %q %x", c, c, c, c, c, c), string(data), fmt.Sprint(struct{ C *wxcrypt.Crypter }{c})} {
		if strings.Contains(s, "CANARY") || strings.Contains(s, key) {
			t.Errorf("a secret shows in %q", s)
		}
	}
}
