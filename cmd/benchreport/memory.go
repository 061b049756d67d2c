package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/rie"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// peak is a function's largest job and the most memory its process held
// doing it (VmHWM, the resident high-water mark, init included): what
// Lambda's REPORT calls Max Memory Used. The emulator reports the memory
// size there, not the use, so the process is read instead.
type peak struct {
	fn, job string
	kb      int64
}

// measurePeaks runs each function's largest jobs once each in a fresh
// container and reads its process's peak: WeChat's largest file streamed
// from S3, and the largest a Lambda invocation carries in its event or
// answer (6 MB, base64): a multipart upload through API Gateway, and a
// get answered inline.
func measurePeaks(ctx context.Context, emulator, dir string, be *backends, home string) ([]peak, error) {
	video, img := mediatest.Sample(media.MP4, 10<<20), mediatest.Sample(media.JPEG, 10<<20)
	png, inline := mediatest.Sample(media.PNG, 1<<20), mediatest.Sample(media.JPEG, 4<<20)
	puts := map[string][]byte{"upload/video/peak.mp4": video, "upload/image/peak.jpg": img, "uploadimg/peak.png": png,
		"upload/image/inline.jpg": inline}
	for key, data := range puts {
		if err := be.bucket.Put(coldBucket, key, "application/octet-stream", data); err != nil {
			return nil, err
		}
	}
	body, ctype := multipartBody(inline)
	var out []peak
	ids := map[string]string{}
	for _, j := range []struct {
		fn, job, key string // key: a {"key"} upload's object; get: the media_id of that upload
		event        []byte
		measured     bool
	}{
		{"upload", "10 MB video, {\"key\"}", "", httpEvent("POST", "/cgi-bin/media/upload", "type=video", `{"key":"upload/video/peak.mp4"}`), true},
		{"upload", "4 MB multipart image through API Gateway", "", httpEventBinary("POST", "/cgi-bin/media/upload", "type=image", ctype, body), true},
		{"upload", "", "upload/image/peak.jpg", httpEvent("POST", "/cgi-bin/media/upload", "type=image", `{"key":"upload/image/peak.jpg"}`), false},
		{"upload", "", "upload/image/inline.jpg", httpEvent("POST", "/cgi-bin/media/upload", "type=image", `{"key":"upload/image/inline.jpg"}`), false},
		{"get", "10 MB image from WeChat, stored and linked", "upload/image/peak.jpg", nil, true},
		{"get", "4 MB image from WeChat, answered inline", "upload/image/inline.jpg", nil, true},
		{"uploadimg", "1 MB PNG, {\"key\"}", "", httpEvent("POST", "/cgi-bin/media/uploadimg", "", `{"key":"uploadimg/peak.png"}`), true},
	} {
		event := j.event
		if j.fn == "get" {
			if err := be.forget([]string{ids[j.key]}); err != nil {
				return nil, err
			}
			event = httpEvent("GET", "/cgi-bin/media/get", "media_id="+ids[j.key], "")
		}
		kb, answer, err := peakOf(ctx, rie.Options{Binary: emulator, Bootstrap: filepath.Join(dir, j.fn), Env: be.env(j.fn, home)}, event)
		if err != nil {
			return nil, fmt.Errorf("%s, %s: %w", j.fn, cmp.Or(j.job, j.key), err)
		}
		if j.fn == "upload" && j.key != "" {
			ids[j.key] = costMediaID(answer)
		}
		if j.measured {
			out = append(out, peak{fn: j.fn, job: j.job, kb: kb})
		}
	}
	return out, nil
}

// peakOf cold-starts the function, invokes it once, and reads the peak of
// its process before the emulator stops it.
func peakOf(ctx context.Context, opts rie.Options, event []byte) (int64, []byte, error) {
	em, err := rie.Start(ctx, opts)
	if err != nil {
		return 0, nil, err
	}
	defer em.Close()
	res, err := em.Invoke(ctx, event)
	if err != nil {
		return 0, nil, fmt.Errorf("%w\n%s", err, em.Output())
	}
	if a, err := httpAnswer(res); err != nil || a.StatusCode >= 400 || strings.Contains(a.Body, `"errcode":4`) {
		return 0, nil, fmt.Errorf("answered %s\n%s", res.Body, em.Output())
	}
	kb, err := childPeak(em.Pid())
	return kb, res.Body, err
}

// childPeak is the VmHWM, in KB, of the process whose parent is ppid.
func childPeak(ppid int) (int64, error) {
	procs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(procs) == 0 {
		return 0, errors.New("no /proc: the peak is read on Linux only")
	}
	for _, stat := range procs {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces; read after ")".
		f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(ppid) {
			continue
		}
		if kb, err := vmHWM(filepath.Join(filepath.Dir(stat), "status")); err == nil && kb > 0 {
			return kb, nil
		}
	}
	return 0, fmt.Errorf("no child process of the emulator (pid %d)", ppid)
}

func vmHWM(status string) (int64, error) {
	f, err := os.Open(status)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New(status + ": no VmHWM")
}

// lambdaSizes are the memory sizes to choose from, MB (Lambda takes any
// from 128 in 1 MB steps; these are the usual ones).
var lambdaSizes = []int{128, 256, 512, 1024}

// smallestSize is the smallest size with at least twice the peak.
func smallestSize(kb int64) int {
	for _, s := range lambdaSizes {
		if int64(s)*1024 >= 2*kb {
			return s
		}
	}
	return lambdaSizes[len(lambdaSizes)-1]
}
