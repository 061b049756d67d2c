// Command wechatsim runs the WeChat API simulator (package wechatsim) as a
// standalone HTTP server, by default on 127.0.0.1:3001.
//
//	wechatsim [-addr 127.0.0.1:3001] [-appid ID] [-secret SECRET] [-base-url URL]
//
// -appid and -secret default to $WECHAT_SIM_APPID and $WECHAT_SIM_APPSECRET,
// then to wechatsim.DefaultAppID and wechatsim.DefaultAppSecret.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wxmedia/wxmedia/internal/wechatsim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wechatsim:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:3001", "listen address")
	appID := flag.String("appid", "", "accepted appid (default $WECHAT_SIM_APPID or "+wechatsim.DefaultAppID+")")
	secret := flag.String("secret", "", "accepted appsecret (default $WECHAT_SIM_APPSECRET or "+wechatsim.DefaultAppSecret+")")
	baseURL := flag.String("base-url", "", "public base URL for video_url and uploadimg urls (default http://<request Host>)")
	perMinute := flag.Int("per-minute", 0, "WeChat's frequency limit: calls a minute per media API, 45011 beyond (0: none)")
	perDay := flag.Int("per-day", 0, "WeChat's daily quota: calls a day per media API, 45009 beyond until midnight Beijing time (0: none)")
	flag.Parse()

	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	sim := wechatsim.New(wechatsim.Options{
		AppID:     firstSet(*appID, os.Getenv("WECHAT_SIM_APPID"), wechatsim.DefaultAppID),
		AppSecret: firstSet(*secret, os.Getenv("WECHAT_SIM_APPSECRET"), wechatsim.DefaultAppSecret),
		BaseURL:   *baseURL,
		Logf:      func(format string, args ...any) { logger.Info(fmt.Sprintf(format, args...)) },
		Faults:    wechatsim.Faults{PerMinute: max(*perMinute, 0), PerDay: max(*perDay, 0)},
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	base := "http://" + ln.Addr().String()
	fmt.Printf("wechatsim: WeChat API simulator listening on %s (appid %s)\n", base, firstSet(*appID, os.Getenv("WECHAT_SIM_APPID"), wechatsim.DefaultAppID))
	fmt.Printf("  curl '%s/cgi-bin/token?grant_type=client_credential&appid=<appid>&secret=<secret>'\n", base)
	fmt.Printf("  curl %s/_sim/stats\n", base)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Println("wechatsim: shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// firstSet returns the first non-empty value.
func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
