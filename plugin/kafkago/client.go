// Package kafkago registers the kafka_go input and output: Kafka consumer
// groups and producers built on github.com/segmentio/kafka-go, named so that
// they never collide with Redpanda Connect's kafka and kafka_franz components.
//
// The input consumes a consumer group with at-least-once delivery that keeps
// order per partition: an offset is committed only once it and every earlier
// offset of its partition were acknowledged, nacked messages are retried
// before the commit point moves past them, and a revoked partition commits
// its acknowledged offsets before it is handed over. In snapshot mode the
// input reads every partition up to the high-water mark seen when it
// connected and then ends.
//
// The output writes with kafka-go's Writer, partitioned by key (hash by
// default) so that records with one key keep their order, and fails exactly
// the messages of a batch that were not written.
package kafkago

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Field names shared by the input and the output.
const (
	fieldAddresses     = "addresses"
	fieldClientID      = "client_id"
	fieldTLS           = "tls"
	fieldSASL          = "sasl"
	fieldSASLMechanism = "mechanism"
	fieldSASLUser      = "user"
	fieldSASLPassword  = "password"
	fieldTimeout       = "timeout"
)

// SASL mechanism names accepted by the sasl.mechanism field.
const (
	saslNone        = "none"
	saslPlain       = "PLAIN"
	saslScramSHA256 = "SCRAM-SHA-256"
	saslScramSHA512 = "SCRAM-SHA-512"
)

// connectionFields are the fields every kafka_go component has: where the
// brokers are and how to authenticate to them.
func connectionFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringListField(fieldAddresses).
			Description("Addresses of Kafka brokers to bootstrap from (`host:port`). An item may hold several comma-separated addresses.").
			Example([]string{"127.0.0.1:9092"}).
			Example([]string{"broker-1:9092,broker-2:9092"}),
		service.NewStringField(fieldClientID).
			Description("The client ID sent to the brokers with every request.").
			Default("concurflow").
			Advanced(),
		service.NewTLSToggledField(fieldTLS),
		service.NewObjectField(fieldSASL,
			service.NewStringEnumField(fieldSASLMechanism, saslNone, saslPlain, saslScramSHA256, saslScramSHA512).
				Description("The SASL mechanism to authenticate with, `none` for no authentication.").
				Default(saslNone),
			service.NewStringField(fieldSASLUser).
				Description("The user name to authenticate as.").
				Default("").
				Example("concurflow"),
			service.NewStringField(fieldSASLPassword).
				Description("The password of the user.").
				Default("").
				Example("${KAFKA_PASSWORD}").
				Secret(),
		).Description("SASL authentication with the brokers.").Advanced(),
		service.NewDurationField(fieldTimeout).
			Description("Network timeout for dialing a broker and for requests that do not wait on data.").
			Default("10s").
			Advanced(),
	}
}

// connConfig is the parsed form of connectionFields.
type connConfig struct {
	addresses []string
	clientID  string
	tls       *tls.Config
	sasl      sasl.Mechanism
	timeout   time.Duration
}

func parseConnConfig(conf *service.ParsedConfig) (connConfig, error) {
	var c connConfig
	var err error
	if c.addresses, err = splitListField(conf, fieldAddresses); err != nil {
		return c, err
	}
	if len(c.addresses) == 0 {
		return c, errors.New("field addresses: at least one broker address is required")
	}
	if c.clientID, err = conf.FieldString(fieldClientID); err != nil {
		return c, err
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return c, err
	}
	if tlsOn {
		c.tls = tlsConf
	}
	if c.sasl, err = parseSASL(conf.Namespace(fieldSASL)); err != nil {
		return c, fmt.Errorf("field sasl: %w", err)
	}
	if c.timeout, err = conf.FieldDuration(fieldTimeout); err != nil {
		return c, err
	}
	if c.timeout <= 0 {
		return c, errors.New("field timeout: must be positive")
	}
	return c, nil
}

func parseSASL(conf *service.ParsedConfig) (sasl.Mechanism, error) {
	mech, err := conf.FieldString(fieldSASLMechanism)
	if err != nil {
		return nil, err
	}
	user, err := conf.FieldString(fieldSASLUser)
	if err != nil {
		return nil, err
	}
	pass, err := conf.FieldString(fieldSASLPassword)
	if err != nil {
		return nil, err
	}
	if mech != saslNone && user == "" {
		return nil, fmt.Errorf("mechanism %s needs a user", mech)
	}
	switch mech {
	case saslNone:
		return nil, nil
	case saslPlain:
		return plain.Mechanism{Username: user, Password: pass}, nil
	case saslScramSHA256:
		return scram.Mechanism(scram.SHA256, user, pass)
	case saslScramSHA512:
		return scram.Mechanism(scram.SHA512, user, pass)
	}
	return nil, fmt.Errorf("unknown mechanism %q", mech)
}

// dialer returns a kafka-go Dialer for direct broker connections.
func (c connConfig) dialer() *kafka.Dialer {
	return &kafka.Dialer{
		ClientID:      c.clientID,
		Timeout:       c.timeout,
		DualStack:     true,
		TLS:           c.tls,
		SASLMechanism: c.sasl,
	}
}

// transport returns a kafka-go Transport for the request/response client API.
// The caller owns it and must call CloseIdleConnections when done.
func (c connConfig) transport() *kafka.Transport {
	return &kafka.Transport{
		Dial:        (&net.Dialer{Timeout: c.timeout}).DialContext,
		DialTimeout: c.timeout,
		ClientID:    c.clientID,
		TLS:         c.tls,
		SASL:        c.sasl,
	}
}

// splitListField reads a string list field whose items may each hold several
// comma-separated values.
func splitListField(conf *service.ParsedConfig, name string) ([]string, error) {
	raw, err := conf.FieldStringList(name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, item := range raw {
		for _, v := range strings.Split(item, ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// sleepCtx waits for d or until ctx is done, reporting whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
