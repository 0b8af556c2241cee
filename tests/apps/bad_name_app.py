from ara_sdk import App

app = App("Bad_Name")
