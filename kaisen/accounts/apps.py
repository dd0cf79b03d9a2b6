from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kaisen.accounts"
    label = "accounts"
