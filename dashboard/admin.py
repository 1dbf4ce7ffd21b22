"""Django admin for the vote map: provinces, the vote log, and the voting state.

Every change goes through dashboard.services inside the admin's transaction
and advances the voting state's `revision`; each worker's namespace notices
the new revision on its next tick (after the commit) and sends its clients a
fresh `snapshot`. Nothing here talks to Socket.IO directly, so it works from
any worker process (or from a separate admin host).
"""

import csv

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import Province, Vote, VotingState
from .selectors import province_counts


@admin.register(Province)
class ProvinceAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "active", "votes", "updated_at"]
    list_display_links = ["code", "name"]
    list_filter = ["active"]
    search_fields = ["code", "name"]
    ordering = ["code"]
    fields = ["code", "name", "active", "votes", "updated_at"]
    readonly_fields = ["code", "votes", "updated_at"]
    actions = ["reset_selected", "export_csv", "activate", "deactivate"]
    change_list_template = "admin/dashboard/province/change_list.html"

    # The 52 provinces come from the INE list; they are deactivated, never added or deleted
    # (votes refer to them).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Province | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Province, form, change: bool) -> None:
        obj.updated_at = timezone.now()
        obj.save(update_fields=["name", "active", "updated_at"])
        services.state_touch()  # same transaction as the change: clients reload after the commit

    @admin.action(description=_("Reset the votes of the selected provinces to 0"), permissions=["change"])
    def reset_selected(self, request: HttpRequest, queryset) -> None:
        codes = list(queryset.values_list("code", flat=True))
        services.votes_reset(codes=codes)
        self.message_user(
            request,
            ngettext("Votes of %(n)d province reset.", "Votes of %(n)d provinces reset.", len(codes)) % {"n": len(codes)},
            messages.SUCCESS,
        )

    @admin.action(description=_("Show the selected provinces on the map"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset) -> None:
        services.province_set_active(codes=queryset.values_list("code", flat=True), active=True)

    @admin.action(description=_("Hide the selected provinces (they refuse votes)"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset) -> None:
        services.province_set_active(codes=queryset.values_list("code", flat=True), active=False)

    @admin.action(description=_("Export the vote counts of the selected provinces as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset) -> HttpResponse:
        selected = set(queryset.values_list("code", flat=True))
        return _counts_csv([row for row in province_counts() if row[0] in selected])

    def get_urls(self):  # type: ignore[no-untyped-def]
        custom = [
            path("export.csv", self.admin_site.admin_view(self.export_all_view), name="dashboard_province_export"),
        ]
        return custom + super().get_urls()

    def export_all_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        return _counts_csv(province_counts())


def _counts_csv(rows: list[tuple[str, str, bool, int]]) -> HttpResponse:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="province-votes-{stamp}.csv"'
    response.write("\ufeff")  # so spreadsheet programs read the accents as UTF-8
    writer = csv.writer(response)
    writer.writerow(["code", "name", "active", "votes"])
    for code, name, active, votes in rows:
        writer.writerow([code, _csv_safe(name), "yes" if active else "no", votes])
    return response


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in a text cell."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    """The audit log: read-only."""

    list_display = ["created_at", "province", "direction", "applied", "voter", "vote_id"]
    list_filter = ["direction", "applied", "province", "created_at"]
    search_fields = ["=vote_id", "=voter"]
    date_hierarchy = "created_at"
    list_select_related = ["province"]
    show_full_result_count = False  # counting millions of rows on every page view is slow

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Vote | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Vote | None = None) -> bool:
        return False


@admin.register(VotingState)
class VotingStateAdmin(admin.ModelAdmin):
    list_display = ["__str__", "is_open", "version", "revision", "updated_at"]
    fields = ["is_open", "version", "revision", "updated_at"]
    readonly_fields = ["version", "revision", "updated_at"]
    actions = ["open_voting", "close_voting", "reset_all"]
    change_form_template = "admin/dashboard/votingstate/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: VotingState | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: VotingState, form, change: bool) -> None:
        if "is_open" in form.changed_data:
            services.voting_set_open(is_open=obj.is_open)

    @admin.action(description=_("Open voting"), permissions=["change"])
    def open_voting(self, request: HttpRequest, queryset) -> None:
        services.voting_set_open(is_open=True)
        self.message_user(request, _("Voting is open."), messages.SUCCESS)

    @admin.action(description=_("Close voting"), permissions=["change"])
    def close_voting(self, request: HttpRequest, queryset) -> None:
        services.voting_set_open(is_open=False)
        self.message_user(request, _("Voting is closed."), messages.SUCCESS)

    @admin.action(description=_("Reset ALL votes to 0"), permissions=["change"])
    def reset_all(self, request: HttpRequest, queryset) -> None:
        version = services.votes_reset()
        self.message_user(request, _("All votes reset (version %(v)d).") % {"v": version}, messages.SUCCESS)

    def get_urls(self):  # type: ignore[no-untyped-def]
        custom = [
            path("reset-all/", self.admin_site.admin_view(self.reset_all_view), name="dashboard_votingstate_reset_all"),
        ]
        return custom + super().get_urls()

    def reset_all_view(self, request: HttpRequest) -> HttpResponse:
        """POST only (CSRF-protected by the admin): reset every counter."""
        if request.method != "POST" or not self.has_change_permission(request):
            return HttpResponse(status=405 if request.method != "POST" else 403)
        version = services.votes_reset()
        self.message_user(request, _("All votes reset (version %(v)d).") % {"v": version}, messages.SUCCESS)
        return redirect(reverse("admin:dashboard_votingstate_changelist"))
