package harness

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// PipelineEnv returns the environment variables pipelines/kafka_to_concur.yaml
// reads, for a sandbox at url, the companies (at most five) and the brokers.
// tokenStore is the refresh-token directory.
func PipelineEnv(url, brokers, tokenStore string, cos []Company) map[string]string {
	env := map[string]string{
		"KAFKA_BROKERS":         brokers,
		"CONCUR_URL":            url,
		"CONCUR_TOKEN_STORE":    tokenStore,
		"KAFKA_SESSION_TIMEOUT": "6s",
		"HTTP_ENABLED":          "false",
	}
	for i, co := range cos {
		p := fmt.Sprintf("CONCUR_COMPANY_%d_", i+1)
		env[p+"ID"] = co.ID
		env[p+"CLIENT_ID"] = co.ClientID
		env[p+"CLIENT_SECRET"] = co.ClientSecret
		env[p+"REQUEST_TOKEN"] = co.RequestToken
	}
	return env
}

// ParseSandboxOutput reads the output of `concurflow sandbox --seed n` until
// it has printed n companies, and returns the sandbox URL and the companies.
// It stops reading there; the caller keeps draining r if the process goes
// on writing.
func ParseSandboxOutput(r io.Reader, n int) (url string, cos []Company, err error) {
	sc := bufio.NewScanner(r)
	var cur *Company
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if !ok || !strings.HasPrefix(sc.Text(), "export ") {
			continue
		}
		switch k {
		case "CONCUR_URL":
			url = v
		case "COMPANY_ID":
			cos = append(cos, Company{ID: v})
			cur = &cos[len(cos)-1]
		case "CLIENT_ID":
			cur.ClientID = v
		case "CLIENT_SECRET":
			cur.ClientSecret = v
		case "REQUEST_TOKEN":
			cur.RequestToken = v
		case "ERP_ID":
			cur.ERPID = v
			if len(cos) == n {
				return url, cos, nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", nil, fmt.Errorf("reading sandbox output: %w", err)
	}
	return "", nil, fmt.Errorf("sandbox output ended after %d of %d companies", len(cos), n)
}
