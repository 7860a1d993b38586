// Package ext is Traefik's dynamic-configuration extension point (empty in the open-source build).
// Traefik v3.7.13 requires it as a nested module (github.com/traefik/traefik/dynamic/ext, replaced by
// ./pkg/config/dynamic/ext in its own go.mod), but a module zip never contains nested modules, so the
// proxy's zip of traefik lacks it. This is a copy of upstream's pkg/config/dynamic/ext/ext.go.
package ext

// HTTP is a dynamic.HTTP extension.
type HTTP struct{}

// Router is a dynamic.Router extension.
type Router struct{}

// RouterIng is a RouterIng extension for ingress provider annotations.
type RouterIng struct{}

// ToRouter converts RouterIng to a Router.
func (r RouterIng) ToRouter() Router {
	return Router{}
}
