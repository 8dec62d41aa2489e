/**
 * docker/'s monitoring files, checked as far as can be without Docker,
 * Prometheus or promtool: the compose files and the Prometheus and Grafana
 * configuration parse as YAML and point at each other (every murmurd service
 * scraped at the port its MURMUR_METRICS serves, every mounted file present);
 * every PromQL expression of the Grafana dashboard parses with Prometheus's
 * own PromQL grammar (@prometheus-io/lezer-promql), and every metric it
 * names is in a real murmurd's scrape.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { parser } from '@prometheus-io/lezer-promql'
import { parse } from 'yaml'
import { parseMetricsAddress } from '../src/metrics/address.js'
import { TestCluster, root } from './harness.js'
import { metricsUrl, scrape } from './prometheus.js'

const docker = join(root, 'docker')
const yaml = (path: string): any => parse(readFileSync(join(docker, path), 'utf8'), { merge: true, strict: true, uniqueKeys: true })
const dashboard = JSON.parse(readFileSync(join(docker, 'grafana/dashboards/murmur.json'), 'utf8'))

/** Grafana's variables, replaced as Grafana would before the query reaches Prometheus. */
const interpolate = (expr: string): string => expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*')

/** The metric names a PromQL expression selects; throws where Prometheus's grammar finds an error. */
function metricNames (expr: string): string[] {
  const names: string[] = []
  parser.parse(expr).iterate({
    enter: node => {
      if (node.type.isError) throw new Error(`PromQL does not parse at ${node.from}: ${expr}`)
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.push(expr.slice(node.from, node.to))
    }
  })
  return names
}

const expressions = (): string[] => (dashboard.panels as any[]).flatMap(panel => (panel.targets as any[]).map(target => interpolate(target.expr as string)))

describe('docker monitoring files', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  const compose = yaml('docker-compose.yml')
  const murmurds = Object.entries(compose.services as Record<string, any>).filter(([, service]) => service.build?.dockerfile === 'docker/Dockerfile')

  it('scrapes every murmurd service of the compose file at the port it serves metrics on', () => {
    assert.deepEqual(murmurds.map(([name]) => name), ['alice', 'bob', 'charlie'])
    const targets = murmurds.map(([name, service]) => {
      const address = parseMetricsAddress('MURMUR_METRICS', String(service.environment?.MURMUR_METRICS))
      assert.equal(address.host, '0.0.0.0', `${name} serves on the container's interfaces, for Prometheus to reach`)
      return `${name}:${address.port}`
    })
    const prometheus = yaml('prometheus/prometheus.yml')
    for (const key of ['scrape_interval', 'scrape_timeout', 'evaluation_interval']) assert.match(prometheus.global[key], /^\d+[smh]$/, `global.${key} is a Prometheus duration`)
    const jobs = prometheus.scrape_configs as any[]
    assert.deepEqual(jobs.map(job => job.job_name), ['murmur'])
    assert.equal(jobs[0].metrics_path, '/metrics')
    assert.deepEqual(jobs[0].static_configs.flatMap((c: any) => c.targets), targets)
  })

  it('wires Prometheus and Grafana to the cluster, the configuration and the dashboard', () => {
    const monitoring = yaml('monitoring.compose.yml')
    const mounts = (service: string): Map<string, string> => new Map((monitoring.services[service].volumes as string[])
      .filter(volume => volume.startsWith('./'))
      .map(volume => { const [from, to] = volume.split(':') as [string, string]; return [to, from] }))
    for (const service of ['prometheus', 'grafana']) {
      assert.deepEqual(monitoring.services[service].networks, ['murmur'], `${service} joins the cluster's network`)
      for (const port of monitoring.services[service].ports as string[]) assert.match(port, /^127\.0\.0\.1:/, `${service} publishes on loopback only`)
      for (const from of mounts(service).values()) assert.ok(existsSync(join(docker, from)), `${from} exists`)
    }
    assert.ok(compose.networks.murmur != null)
    const prometheusMounts = mounts('prometheus')
    assert.equal(prometheusMounts.get('/etc/prometheus/prometheus.yml'), './prometheus/prometheus.yml')
    assert.ok(monitoring.services.prometheus.command.includes('--config.file=/etc/prometheus/prometheus.yml'))

    const grafanaMounts = mounts('grafana')
    assert.equal(grafanaMounts.get('/etc/grafana/provisioning'), './grafana/provisioning')
    const datasource = yaml('grafana/provisioning/datasources/prometheus.yml').datasources[0]
    assert.equal(datasource.type, 'prometheus')
    assert.equal(datasource.url, 'http://prometheus:9090')
    const provider = yaml('grafana/provisioning/dashboards/murmur.yml').providers[0]
    assert.equal(grafanaMounts.get(provider.options.path), './grafana/dashboards', 'the provider reads the mounted dashboards')
    for (const panel of dashboard.panels) {
      assert.equal(panel.datasource.uid, datasource.uid, `panel "${panel.title}" uses the provisioned data source`)
      for (const target of panel.targets) assert.equal(target.datasource.uid, datasource.uid)
    }
  })

  it('has a dashboard whose PromQL parses and names only metrics murmurd serves', async () => {
    assert.equal(new Set(dashboard.panels.map((p: any) => p.id)).size, dashboard.panels.length, 'panel ids are unique')
    assert.throws(() => metricNames('rate(murmur_ops_written_total[1m]'), /does not parse/, 'the grammar check can fail')
    const node = await cluster.start('dash', { args: ['--metrics', '127.0.0.1:0'] })
    const families = await scrape(await metricsUrl(() => node.stdout))
    const served = new Set([...families].flatMap(([name, family]) => family.type === 'HISTOGRAM' ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name]))
    const variable = /^label_values\((\w+), *(\w+)\)$/.exec(dashboard.templating.list[0].query.query)
    const named = [...expressions().flatMap(metricNames), variable?.[1]]
    assert.ok(named.length >= 20)
    for (const name of named) assert.ok(served.has(name as string), `the dashboard's ${String(name)} is in murmurd's scrape`)
    for (const family of ['murmur_peer_ops_ahead', 'murmur_write_ack_seconds', 'murmur_ops_refused_total', 'process_cpu_seconds_total']) {
      assert.ok(named.includes(family) || named.includes(`${family}_bucket`), `the dashboard shows ${family}`)
    }
  })
})
