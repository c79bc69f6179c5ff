from django.core.management.base import BaseCommand

from plugins.registry import register


class Command(BaseCommand):
    help = "List the installed plugins (built-in and from pip packages' 'tumen.plugins' entry points) and their options."

    def handle(self, *args, **options):
        for plugin in sorted(register, key=lambda p: (p.kind, p.id)):
            self.stdout.write(f"{plugin.id:16} {plugin.kind:16} v{plugin.version:6} {plugin.label}  [{register.sources.get(plugin.id, '')}]")
            for option in plugin.options_schema():
                flag = "required" if option["required"] else "optional"
                self.stdout.write(f"    {option['name']:16} {option['type']:14} {flag}  {option['help_text']}")
