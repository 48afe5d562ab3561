"""The terminal client's widgets and screens, one concern per module."""

from tui.widgets.chat import AnswerView, ChatView, QuestionBubble
from tui.widgets.feedback import ReasonScreen
from tui.widgets.history import HistoryList, HistoryScreen
from tui.widgets.sources import PassageView, SourceList
from tui.widgets.toolbar import CollectionPicker, LanguagePicker, RolePicker, StatusLabel

__all__ = [
    "AnswerView",
    "ChatView",
    "CollectionPicker",
    "HistoryList",
    "HistoryScreen",
    "LanguagePicker",
    "PassageView",
    "QuestionBubble",
    "ReasonScreen",
    "RolePicker",
    "SourceList",
    "StatusLabel",
]
