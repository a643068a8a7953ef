package wsclient

import (
	"fmt"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs/codec"
	_ "github.com/elastic/beats/v7/libbeat/outputs/codec/format" // registers codec.format
	_ "github.com/elastic/beats/v7/libbeat/outputs/codec/json"   // registers codec.json

	"github.com/beats-websocket/websocket-output/encode"
)

// newEncoder returns a client's encoder: the original format, or the
// configured libbeat codec. Each client needs its own: encoders reuse
// buffers.
func newEncoder(cfg config, info beat.Info) (encode.Encoder, error) {
	if !cfg.Codec.Namespace.IsSet() {
		return encode.NewDefault(cfg.MaxLen), nil
	}
	codecConfig, err := cfg.codecConfig()
	if err != nil {
		return nil, err
	}
	c, err := codec.CreateEncoder(info, codecConfig)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	return encode.NewCodec(c, info.Beat, encode.CodecOptions{
		MaxLen:     cfg.MaxLen,
		Text:       cfg.Opcode == opcodeText,
		SingleLine: cfg.Frame == frameBatch,
	}), nil
}

// jsonCodecKeys maps the keys of codec.json, as Filebeat documents them,
// to those Beats 7.17's json codec reads: its settings have no config
// tags, so it reads escapehtml and localtime and silently ignores
// escape_html and local_time.
var jsonCodecKeys = map[string]string{
	"pretty": "pretty", "escape_html": "escapehtml", "local_time": "localtime",
	"escapehtml": "escapehtml", "localtime": "localtime",
}

// codecConfig is the codec setting for libbeat's codec.CreateEncoder, with
// codec.json's keys as the json codec reads them. Unknown keys of
// codec.json are refused rather than ignored.
func (c *config) codecConfig() (codec.Config, error) {
	ns := c.Codec.Namespace
	if !ns.IsSet() || ns.Name() != "json" {
		return c.Codec, nil
	}
	settings := map[string]interface{}{}
	for _, k := range ns.Config().GetFields() {
		target, ok := jsonCodecKeys[k]
		if !ok {
			return codec.Config{}, fmt.Errorf("codec.json.%s: unknown setting, use pretty, escape_html or local_time", k)
		}
		v, err := ns.Config().Bool(k, -1)
		if err != nil {
			return codec.Config{}, fmt.Errorf("codec.json.%s: must be true or false", k)
		}
		settings[target] = v
	}
	cfg, err := newConfigFrom(map[string]interface{}{"json": settings})
	if err != nil {
		return codec.Config{}, fmt.Errorf("codec.json: %w", err)
	}
	var out codec.Config
	if err := cfg.Unpack(&out); err != nil {
		return codec.Config{}, fmt.Errorf("codec.json: %w", err)
	}
	return out, nil
}
