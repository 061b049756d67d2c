package wechatsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/wxmedia/wxmedia/internal/wechatsim"
)

func ExampleStart() {
	sim, base, stop, err := wechatsim.Start(wechatsim.Options{AppID: "wxapp", AppSecret: "secret"})
	if err != nil {
		panic(err)
	}
	defer stop()

	// Get a token as a WeChat client would.
	resp, err := http.Get(base + "/cgi-bin/token?grant_type=client_credential&appid=wxapp&secret=secret")
	if err != nil {
		panic(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	fmt.Println("expires_in:", tok.ExpiresIn)

	// Upload an image: a multipart body with a file part named "media".
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("media", "cat.jpg")
	_, _ = fw.Write([]byte("\xff\xd8\xff\xe0 jpeg bytes"))
	_ = mw.Close()
	resp, err = http.Post(base+"/cgi-bin/media/upload?type=image&access_token="+tok.AccessToken, mw.FormDataContentType(), &body)
	if err != nil {
		panic(err)
	}
	var up struct {
		Type    string `json:"type"`
		MediaID string `json:"media_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	stored, _ := sim.Media(up.MediaID)
	fmt.Printf("uploaded %s: %d bytes\n", up.Type, len(stored))

	// Three days later the media is gone.
	sim.Advance(72 * time.Hour)
	_, ok := sim.Media(up.MediaID)
	fmt.Println("still there after 3 days:", ok)
	fmt.Printf("%+v\n", sim.Stats())
	// Output:
	// expires_in: 7200
	// uploaded image: 15 bytes
	// still there after 3 days: false
	// {Token:1 StableToken:0 Upload:1 Get:0 UploadImg:0 MinuteLimited:0 QuotaSpent:0 ComponentToken:0 QueryAuth:0 AuthorizerToken:0 Pushes:0}
}
