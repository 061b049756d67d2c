// Command authorizer registers a third-party platform's authorizer by
// hand: it writes the authorizer's refresh token into the shared token
// store (the stack's TokenTable), for a platform whose authorization
// event URL points elsewhere. The refresh token is read from standard
// input, never from the command line (which shells keep in history and
// ps shows). It is what `make register-authorizer` runs:
//
//	printf %s "$REFRESH_TOKEN" | make register-authorizer APPID=wx… TABLE=<TokenTable> SECRET=<SecretArn>
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/wxmedia/wxmedia/pkg/platform"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "authorizer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("authorizer", flag.ContinueOnError)
	appID := fs.String("appid", "", "the authorizer's AppID")
	table := fs.String("table", os.Getenv("TOKEN_TABLE"), "the token table (the stack's TokenTable; default $TOKEN_TABLE)")
	secretID := fs.String("secret", os.Getenv("WECHAT_SECRET_ID"), "the credentials secret, whose component entry is the platform (default $WECHAT_SECRET_ID)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *appID == "" || *table == "" || *secretID == "" {
		return errors.New("want -appid, -table and -secret (or TOKEN_TABLE and WECHAT_SECRET_ID), and the refresh token on standard input")
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("read the refresh token from standard input: %w", err)
	}
	refresh := strings.TrimSpace(line)
	if refresh == "" {
		return errors.New("no refresh token on standard input")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	secrets := token.NewSecretStore(secretsmanager.NewFromConfig(cfg), *secretID, token.StoreOptions{})
	p := platform.New(platform.Options{Store: tokentable.NewDynamo(dynamodb.NewFromConfig(cfg), *table), Secrets: secrets})
	if err := p.Register(ctx, *appID, refresh); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "registered authorizer %s in %s; its next call fetches its authorizer_access_token\n", *appID, *table)
	return nil
}
