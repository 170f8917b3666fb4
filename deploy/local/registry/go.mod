// Builds the Kubeflow Model Registry REST server (tag v0.3.10) from the Go module proxy.
//
// The module path sits under github.com/kubeflow/hub so that Go's internal-package rule lets the
// server's own `cmd` package (copied at build time from the downloaded module, never committed)
// import hub/internal/... . Its catalog sub-command is left out: it needs
// github.com/kubeflow/hub/catalog/pkg/openapi, which the proxy does not publish.
// From v0.3.10 the module calls itself github.com/kubeflow/hub but is served under its old name.
module github.com/kubeflow/hub/localbuild

go 1.26.0

require (
	github.com/golang/glog v1.2.5
	github.com/kubeflow/hub v0.3.10
	github.com/spf13/cobra v1.10.2
	github.com/spf13/pflag v1.0.10
	github.com/spf13/viper v1.21.0
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/alecthomas/participle/v2 v2.1.4 // indirect
	github.com/fsnotify/fsnotify v1.10.1 // indirect
	github.com/go-chi/chi/v5 v5.3.0 // indirect
	github.com/go-chi/cors v1.2.2 // indirect
	github.com/go-sql-driver/mysql v1.10.0 // indirect
	github.com/go-viper/mapstructure/v2 v2.4.0 // indirect
	github.com/golang-migrate/migrate/v4 v4.19.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/pgx/v5 v5.10.0 // indirect
	github.com/jackc/puddle/v2 v2.2.2 // indirect
	github.com/jinzhu/inflection v1.0.0 // indirect
	github.com/jinzhu/now v1.1.5 // indirect
	github.com/kubeflow/hub/pkg/openapi v0.0.0 // indirect
	github.com/lib/pq v1.12.3 // indirect
	github.com/pelletier/go-toml/v2 v2.2.4 // indirect
	github.com/sagikazarmark/locafero v0.11.0 // indirect
	github.com/sourcegraph/conc v0.3.1-0.20240121214520-5f936abd7ae8 // indirect
	github.com/spf13/afero v1.15.0 // indirect
	github.com/spf13/cast v1.10.0 // indirect
	github.com/subosito/gotenv v1.6.0 // indirect
	go.yaml.in/yaml/v3 v3.0.4 // indirect
	golang.org/x/exp v0.0.0-20250808145144-a408d31f581a // indirect
	golang.org/x/sync v0.21.0 // indirect
	golang.org/x/sys v0.42.0 // indirect
	golang.org/x/text v0.34.0 // indirect
	google.golang.org/protobuf v1.36.12-0.20260120151049-f2248ac996af // indirect
	gorm.io/driver/mysql v1.6.0 // indirect
	gorm.io/driver/postgres v1.6.0 // indirect
	gorm.io/gorm v1.31.1 // indirect
)

replace github.com/kubeflow/hub => github.com/kubeflow/model-registry v0.3.10

replace github.com/kubeflow/hub/pkg/openapi => github.com/kubeflow/model-registry/pkg/openapi v0.3.10
