module github.com/wardrt/ward

go 1.26.0

require (
	github.com/Masterminds/semver/v3 v3.5.0
	github.com/bytecodealliance/wasmtime-go/v25 v25.0.0
	github.com/fxamacker/cbor/v2 v2.10.0
	github.com/google/go-cmp v0.7.0
)

require github.com/x448/float16 v0.8.4 // indirect
