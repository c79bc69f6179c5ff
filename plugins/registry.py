"""The plugin registry, which is also the ``@register("id")`` decorator (as in Open Forms).

Built-in plugins register when ``plugins.contrib`` is imported (``AppConfig.ready``).
Third-party plugins are pip-installable packages that declare an entry point in the group
``tumen.plugins``; :meth:`Registry.discover` loads them, so installing the package is the whole
step (see docs/plugins.md). An entry point may name a module (whose import runs its
``@register`` decorators) or a plugin class (registered under the entry point's name).
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from .base import KINDS, Plugin

logger = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "tumen.plugins"


class PluginAlreadyRegistered(ValueError):
    pass


class Registry:
    def __init__(self):
        self._plugins: dict[str, Plugin] = {}
        self.sources: dict[str, str] = {}

    def __call__(self, plugin_id: str):
        """``@register("my-id")`` on a :class:`~plugins.base.Plugin` subclass."""

        def decorator(cls):
            self.add(plugin_id, cls)
            return cls

        return decorator

    def add(self, plugin_id: str, cls, source: str = "built-in"):
        if not (isinstance(cls, type) and issubclass(cls, Plugin)) or cls.kind not in KINDS:
            raise TypeError(f"{cls!r} is not a delivery, pre-submit, status-callback, SMS, reference-source or payment plugin")
        existing = self._plugins.get(plugin_id)
        if existing is not None:
            if type(existing) is cls:
                return existing
            raise PluginAlreadyRegistered(f"plugin id {plugin_id!r} is already used by {type(existing).__module__}")
        plugin = cls()
        plugin.id = plugin_id
        self._plugins[plugin_id] = plugin
        self.sources[plugin_id] = source
        return plugin

    def remove(self, plugin_id: str):
        """Forget a plugin (``plugins.testing`` registers a package's plugin for one test only)."""
        self._plugins.pop(plugin_id, None)
        self.sources.pop(plugin_id, None)

    def __getitem__(self, plugin_id: str) -> Plugin:
        return self._plugins[plugin_id]

    def get(self, plugin_id: str) -> Plugin | None:
        return self._plugins.get(plugin_id)

    def __contains__(self, plugin_id):
        return plugin_id in self._plugins

    def __iter__(self):
        return iter(self._plugins.values())

    def of_kind(self, kind: str) -> list[Plugin]:
        return [plugin for plugin in self._plugins.values() if plugin.kind == kind]

    def choices(self, kind: str | None = None):
        return [
            (plugin.id, f"{plugin.label} ({plugin.id} {plugin.version})")
            for plugin in self._plugins.values()
            if kind is None or plugin.kind == kind
        ]

    def discover(self):
        """Load third-party plugins from the ``tumen.plugins`` entry points. A broken package is
        logged and skipped: one agency's plugin must not take the whole site down."""
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = entry_point.load()
                source = f"{entry_point.dist.name if entry_point.dist else '?'} ({entry_point.value})"
                if isinstance(loaded, type) and issubclass(loaded, Plugin):
                    self.add(entry_point.name, loaded, source=source)
                else:  # a module: its @register decorators ran on import
                    for plugin_id, plugin in self._plugins.items():
                        if type(plugin).__module__.startswith(getattr(loaded, "__name__", "")):
                            self.sources[plugin_id] = source
            except Exception:
                logger.exception("could not load the plugin entry point %s", entry_point)


register = Registry()
