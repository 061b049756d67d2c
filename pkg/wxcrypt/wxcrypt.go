// Package wxcrypt is WeChat's message encryption for the pushes a
// third-party platform receives (WXBizMsgCrypt): the msg_signature, a
// SHA-1 of the sorted token, timestamp, nonce and ciphertext; and
// AES-256-CBC with the key base64(EncodingAESKey + "="), the IV its first
// 16 bytes, PKCS#7 padding to 32-byte blocks, over 16 random bytes, the
// message's length (4 bytes, big-endian), the message and the AppID it is
// for.
package wxcrypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
)

// blockSize is the PKCS#7 block WeChat pads to: 32 bytes, not AES's 16.
const blockSize = 32

// What a message that does not open fails with, found with errors.Is.
var (
	ErrSignature = errors.New("msg_signature does not match")
	ErrAppID     = errors.New("the message is for another appid")
	ErrMalformed = errors.New("malformed encrypted message")
)

// Crypter seals and opens the messages of one AppID. However it is
// printed, its token and key are not.
type Crypter struct {
	appID string
	keys  *keys
	rand  io.Reader
}

type keys struct {
	token string
	key   []byte // 32 bytes
}

// New returns the Crypter of appID with the platform's message token and
// its 43-character EncodingAESKey.
func New(token, encodingAESKey, appID string) (*Crypter, error) {
	if len(encodingAESKey) != 43 {
		return nil, errors.New("wxcrypt: the EncodingAESKey must be 43 characters")
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("wxcrypt: the EncodingAESKey is not base64 of 32 bytes")
	}
	if token == "" || appID == "" {
		return nil, errors.New("wxcrypt: a token and an appid are needed")
	}
	return &Crypter{appID: appID, keys: &keys{token: token, key: key}, rand: rand.Reader}, nil
}

// WithRandom returns a copy of c that takes its 16 random bytes from r
// (tests that compare ciphertexts).
func (c *Crypter) WithRandom(r io.Reader) *Crypter {
	d := *c
	d.rand = r
	return &d
}

// AppID is the AppID the messages are for.
func (c *Crypter) AppID() string { return c.appID }

func (c *Crypter) redacted() string {
	return "wxcrypt{appid:" + c.appID + " token:REDACTED key:REDACTED}"
}

// String never shows the token or the key.
func (c *Crypter) String() string { return c.redacted() }

// Format answers every verb without the token or the key.
func (c *Crypter) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.redacted()) }

// LogValue is what slog's handlers print.
func (c *Crypter) LogValue() slog.Value { return slog.StringValue(c.redacted()) }

// MarshalJSON never writes the token or the key.
func (c *Crypter) MarshalJSON() ([]byte, error) { return json.Marshal(c.redacted()) }

// Signature is the msg_signature of a message: the SHA-1, in hex, of the
// token, timestamp, nonce and ciphertext, sorted and joined.
func (c *Crypter) Signature(timestamp, nonce, encrypted string) string {
	return Signature(c.keys.token, timestamp, nonce, encrypted)
}

// Signature is SHA-1, in hex, of parts sorted and joined: WeChat's
// signature of its URL parameters (signature, msg_signature).
func Signature(parts ...string) string {
	p := append([]string(nil), parts...)
	sort.Strings(p)
	sum := sha1.Sum([]byte(strings.Join(p, "")))
	return hex.EncodeToString(sum[:])
}

// Encrypt seals msg for the Crypter's AppID and answers it in base64.
func (c *Crypter) Encrypt(msg []byte) (string, error) {
	plain := make([]byte, 20, 20+len(msg)+len(c.appID)+blockSize)
	if _, err := io.ReadFull(c.rand, plain[:16]); err != nil {
		return "", fmt.Errorf("wxcrypt: random bytes: %w", err)
	}
	binary.BigEndian.PutUint32(plain[16:20], uint32(len(msg)))
	plain = append(append(plain, msg...), c.appID...)
	pad := blockSize - len(plain)%blockSize
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, _ := aes.NewCipher(c.keys.key) // 32 bytes: never fails
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, c.keys.key[:aes.BlockSize]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out), nil
}

// Decrypt opens a base64 ciphertext and answers the message, if it is for
// the Crypter's AppID.
func (c *Crypter) Decrypt(encrypted string) ([]byte, error) {
	msg, appID, err := c.open(encrypted)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(appID), []byte(c.appID)) != 1 {
		return nil, ErrAppID
	}
	return msg, nil
}

func (c *Crypter) open(encrypted string) (msg []byte, appID string, err error) {
	data, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil || len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, "", fmt.Errorf("%w: not base64 of whole AES blocks", ErrMalformed)
	}
	block, _ := aes.NewCipher(c.keys.key)
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, c.keys.key[:aes.BlockSize]).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > blockSize || pad > len(plain) {
		return nil, "", fmt.Errorf("%w: bad padding", ErrMalformed)
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, "", fmt.Errorf("%w: bad padding", ErrMalformed)
		}
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < 20 {
		return nil, "", fmt.Errorf("%w: too short", ErrMalformed)
	}
	n := binary.BigEndian.Uint32(plain[16:20])
	if uint64(n) > uint64(len(plain)-20) {
		return nil, "", fmt.Errorf("%w: length past the end", ErrMalformed)
	}
	return plain[20 : 20+n], string(plain[20+n:]), nil
}

// Envelope is a push as WeChat posts it: the XML body, and the query's
// timestamp, nonce and msg_signature.
type Envelope struct {
	Body                        []byte
	Timestamp, Nonce, Signature string
}

// envelopeXML is the body of a push: <xml><AppId/><Encrypt/></xml>, or
// <ToUserName/> instead of <AppId/> for an account's own messages.
type envelopeXML struct {
	XMLName xml.Name `xml:"xml"`
	AppID   string   `xml:"AppId,omitempty"`
	ToUser  string   `xml:"ToUserName,omitempty"`
	Encrypt string   `xml:"Encrypt"`
}

// Seal is msg as WeChat pushes it to the Crypter's AppID at timestamp
// with nonce.
func (c *Crypter) Seal(msg []byte, timestamp, nonce string) (Envelope, error) {
	enc, err := c.Encrypt(msg)
	if err != nil {
		return Envelope{}, err
	}
	body, _ := xml.Marshal(envelopeXML{AppID: c.appID, Encrypt: enc})
	return Envelope{Body: body, Timestamp: timestamp, Nonce: nonce, Signature: c.Signature(timestamp, nonce, enc)}, nil
}

// maxBody bounds a push's body.
const maxBody = 64 << 10

// Open checks a push's msg_signature and opens it: the message, if the
// signature is the Crypter's and the message is for its AppID. It reads
// nothing else and changes nothing.
func (c *Crypter) Open(e Envelope) ([]byte, error) {
	if len(e.Body) > maxBody {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrMalformed, maxBody)
	}
	var env envelopeXML
	if err := xml.Unmarshal(e.Body, &env); err != nil || env.Encrypt == "" {
		return nil, fmt.Errorf("%w: want <xml><Encrypt>…</Encrypt></xml>", ErrMalformed)
	}
	want := c.Signature(e.Timestamp, e.Nonce, env.Encrypt)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(e.Signature))) != 1 {
		return nil, ErrSignature
	}
	return c.Decrypt(env.Encrypt)
}
