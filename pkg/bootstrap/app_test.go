package bootstrap_test

import (
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/media"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	base := map[string]string{bootstrap.EnvBucket: "media-bucket", bootstrap.EnvSecretID: "wxmedia/app"}
	c, err := bootstrap.FromEnv(env(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.WeChatBase != "https://api.weixin.qq.com" || c.Rules[media.Image].MaxSize != 10*media.MB || len(c.AllowedPrefixes) != 0 {
		t.Errorf("defaults = %+v", c)
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	c, err = bootstrap.FromEnv(env(with(bootstrap.EnvAllowedPrefixes, "incoming/, upload/ ,")))
	if err != nil || strings.Join(c.AllowedPrefixes, "|") != "incoming/|upload/" {
		t.Errorf("allowed prefixes = %q, %v", c.AllowedPrefixes, err)
	}
	if c.QuotaResetHour != 16 {
		t.Errorf("quota reset hour %d, want 16 (UTC: midnight Beijing time)", c.QuotaResetHour)
	}
	c, err = bootstrap.FromEnv(env(with(bootstrap.EnvQuotaResetHour, " 0 ")))
	if err != nil || c.QuotaResetHour != 0 {
		t.Errorf("QUOTA_RESET_HOUR=0: %d, %v", c.QuotaResetHour, err)
	}
	c, err = bootstrap.FromEnv(env(with(bootstrap.EnvLimits, "image=2MB")))
	if err != nil || c.Rules[media.Image].MaxSize != 2*media.MB {
		t.Errorf("MEDIA_LIMITS=image=2MB: image limit %d, %v", c.Rules[media.Image].MaxSize, err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"ErrNoBucket", map[string]string{bootstrap.EnvSecretID: "x"}, "MEDIA_BUCKET is not set"},
		{"ErrNoSecret", map[string]string{bootstrap.EnvBucket: "x"}, "WECHAT_SECRET_ID is not set"},
		{"ErrBadBase", with(bootstrap.EnvWeChatBase, "api.weixin.qq.com"), "WECHAT_API_BASE"},
		{"ErrBadLimits", with(bootstrap.EnvLimits, "image=lots"), "MEDIA_LIMITS"},
		{"ErrResetHourOutOfDay", with(bootstrap.EnvQuotaResetHour, "24"), "QUOTA_RESET_HOUR"},
		{"ErrResetHourNotANumber", with(bootstrap.EnvQuotaResetHour, "16:00"), "QUOTA_RESET_HOUR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := bootstrap.FromEnv(env(tt.env)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}
