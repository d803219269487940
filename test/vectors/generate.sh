#!/usr/bin/env bash
# Known-answer vectors for the webhook signature checks, computed with OpenSSL, independently of the project's code.
# Bodies are kept as *.body files (not .json) so the formatter never rewrites the bytes that were signed.
# Regenerate (from the repository root):
#   bash test/vectors/generate.sh > test/vectors/webhook-signatures.json && npx biome format --write test/vectors
#
#   Virtuous: HMAC-SHA256(secret, raw body)            openssl dgst -sha256 -hmac "$secret" -binary < body
#             hex:    ... | od -An -v -tx1 | tr -d ' \n'      base64: ... | base64 -w0
#   Stripe:   HMAC-SHA256(secret, "<t>." + raw body)   { printf '%s.' "$t"; cat body; } | openssl dgst -sha256 -hmac "$secret" -binary
#   Delivery id: SHA-256("<provider>\n<customer>\n" + raw body)  { printf '%s\n%s\n' "$p" "$c"; cat body; } | openssl dgst -sha256
#
# The secrets below are test-only values; the test registers them as canaries, so they must never appear in output.
set -euo pipefail
cd "$(dirname "$0")"

hmac_hex() { openssl dgst -sha256 -hmac "$1" -binary | od -An -v -tx1 | tr -d ' \n'; }
hmac_b64() { openssl dgst -sha256 -hmac "$1" -binary | base64 -w0; }

virtuous_secret='vectors-virtuous-secret-9f3c1a7e5b2d4c6e8a0b1c2d3e4f5a6b'
virtuous_other_secret='vectors-virtuous-other-secret-0a1b2c3d4e5f60718293a4b5c6d7e8f9'
stripe_secret='whsec_vectorsStripeSecret0123456789abcdefABCDEF'
stripe_timestamp='1795000000'

printf '{\n  "generatedBy": "bash test/vectors/generate.sh (OpenSSL %s)",\n' "$(openssl version | cut -d' ' -f2)"
printf '  "virtuous": [\n'
first=1
for secret in "$virtuous_secret" "$virtuous_other_secret"; do
  for body in bodies/gift-create.body bodies/empty.body bodies/contact-update-utf8.body; do
    [ $first -eq 1 ] || printf ',\n'
    first=0
    printf '    {"secret": "%s", "bodyFile": "%s", "hex": "%s", "base64": "%s"}' \
      "$secret" "$body" "$(hmac_hex "$secret" < "$body")" "$(hmac_b64 "$secret" < "$body")"
  done
done
printf '\n  ],\n  "stripe": [\n'
first=1
for body in bodies/stripe-payment-intent.body bodies/gift-create.body bodies/empty.body; do
  [ $first -eq 1 ] || printf ',\n'
  first=0
  printf '    {"secret": "%s", "timestamp": %s, "bodyFile": "%s", "v1": "%s"}' \
    "$stripe_secret" "$stripe_timestamp" "$body" \
    "$({ printf '%s.' "$stripe_timestamp"; cat "$body"; } | hmac_hex "$stripe_secret")"
done
printf '\n  ],\n  "deliveryIds": [\n'
first=1
for provider in virtuous stripe; do
  for body in bodies/gift-create.body bodies/empty.body; do
    [ $first -eq 1 ] || printf ',\n'
    first=0
    printf '    {"provider": "%s", "customerId": "acme-foundation", "bodyFile": "%s", "sha256": "%s"}' "$provider" "$body" \
      "$({ printf '%s\n%s\n' "$provider" 'acme-foundation'; cat "$body"; } | openssl dgst -sha256 -binary | od -An -v -tx1 | tr -d ' \n')"
  done
done
printf '\n  ]\n}\n'
