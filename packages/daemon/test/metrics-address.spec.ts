/**
 * The `--metrics` address rule, in-process: a port alone is 127.0.0.1; any
 * other host must be an IP address written out (0.0.0.0 for every
 * interface); host names and malformed values are refused, saying what to write.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isLoopbackHost, parseMetricsAddress } from '../src/metrics/address.js'

const parse = (value: string): unknown => parseMetricsAddress('--metrics', value)

describe('--metrics address', () => {
  it('serves a bare port on 127.0.0.1, and only there', () => {
    assert.deepEqual(parse('9464'), { host: '127.0.0.1', port: 9464 })
    assert.deepEqual(parse(':9464'), { host: '127.0.0.1', port: 9464 })
    assert.deepEqual(parse('0'), { host: '127.0.0.1', port: 0 }, 'port 0: any free port')
    assert.deepEqual(parse('localhost:9464'), { host: '127.0.0.1', port: 9464 })
  })

  it('takes an IP address written out, loopback or not', () => {
    assert.deepEqual(parse('127.0.0.2:1'), { host: '127.0.0.2', port: 1 })
    assert.deepEqual(parse('[::1]:9464'), { host: '::1', port: 9464 })
    assert.deepEqual(parse('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 })
    assert.deepEqual(parse('[::]:9464'), { host: '::', port: 9464 })
    assert.deepEqual(parse('192.0.2.7:9464'), { host: '192.0.2.7', port: 9464 })
  })

  it('refuses host names and malformed values, naming the flag and what to write', () => {
    const cases: Array<[string, string]> = [
      ['example.com:9464', '"example.com" is not an IP address (a host name could resolve to an address open to others)'],
      ['metrics-host', 'no port'],
      ['', 'it is empty'],
      ['  ', 'it is empty'],
      ['127.0.0.1:99999', 'the port must be 0 to 65535'],
      ['127.0.0.1:http', 'the port is not a number'],
      ['127.0.0.1:', 'the port is not a number'],
      ['127.0.0.1:-1', 'the port is not a number'],
      ['::1:9464', 'write an IPv6 address in brackets'],
      ['[fe80::zz]:9464', '"fe80::zz" is not an IPv6 address'],
      ['[127.0.0.1]:9464', '"127.0.0.1" is not an IPv6 address'],
      ['999.1.1.1:9464', '"999.1.1.1" is not an IP address (a host name could resolve to an address open to others)']
    ]
    for (const [value, why] of cases) {
      assert.throws(() => parse(value), {
        name: 'ConfigError',
        message: `invalid --metrics "${value}": ${why}; expected <port> (served on 127.0.0.1, e.g. 9464) or <ip>:<port> (e.g. 127.0.0.1:9464, [::1]:9464, or 0.0.0.0:9464 for every interface)`
      }, value)
    }
  })

  it('tells loopback addresses from the others', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(host), true, host)
    for (const host of ['0.0.0.0', '::', '192.0.2.7', '10.0.0.1', 'fe80::1']) assert.equal(isLoopbackHost(host), false, host)
  })
})
