"""`manage.py map_voting status|open|close|reset [CODE ...]`: run a live vote from a terminal.

The same services as the admin: every connected map receives a fresh snapshot
within one tick, whichever worker it is connected to.
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard import services
from dashboard.models import Province
from dashboard.selectors import province_counts, voting_state_get


class Command(BaseCommand):
    help = "Show the vote map's state, open or close voting, or reset counters (all, or the given INE codes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["status", "open", "close", "reset"])
        parser.add_argument("codes", nargs="*", help="with reset: only these provinces (INE codes, e.g. 28 08)")

    def handle(self, *args: object, action: str, codes: list[str], **options: object) -> None:
        if codes and action != "reset":
            raise CommandError("province codes only go with 'reset'")
        if action == "open":
            services.voting_set_open(is_open=True)
        elif action == "close":
            services.voting_set_open(is_open=False)
        elif action == "reset":
            if codes:
                unknown = sorted(set(codes) - set(Province.objects.filter(code__in=codes).values_list("code", flat=True)))
                if unknown:
                    raise CommandError(f"unknown province codes: {', '.join(unknown)}")
            services.votes_reset(codes=codes or None)
        state = voting_state_get()
        counts = province_counts()
        total = sum(votes for _, _, active, votes in counts if active)
        self.stdout.write(
            f"voting {'open' if state.is_open else 'closed'}; version {state.version}; "
            f"{total} votes on {sum(1 for c in counts if c[2])} active provinces"
        )
        if action == "status":
            top = sorted((c for c in counts if c[2] and c[3]), key=lambda c: (-c[3], c[0]))[:5]
            for code, name, _, votes in top:
                self.stdout.write(f"  {code} {name}: {votes}")
