"""Deployment of the fraud scorer: the local stack of real services and the `fraud` command line.

Kubernetes manifests, Containerfiles, Prometheus rules and Grafana dashboards live beside this
package as plain files; `deploy.stack` starts the same services as local processes.
"""
